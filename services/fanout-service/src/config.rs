//! fanout-service configuration, read from the environment before any port is bound.

use feedline_redis::TimelineEnv;
use feedline_service_kit::config::{millis_or, parse_or, ranged_or};
use feedline_service_kit::{ConfigError, Env, ServerConfig};

use crate::DEFAULT_PORT;
use crate::timelines::{ReplicationWait, TimelineConfig};

/// Everything fanout-service reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address, timeouts, limits (`FEEDLINE_LISTEN_ADDR`, ...).
    pub server: ServerConfig,
    /// `FEEDLINE_REDIS_URL`: the cluster, as `redis-cluster://host:port?node=host:port&...`
    /// (default: the local cluster of `cargo xtask up`, ports 30001-30003).
    pub redis_url: String,
    /// `FEEDLINE_POST_SERVICE_URL`: where follower lists and author posts are rebuilt from
    /// (default `http://127.0.0.1:50051`).
    pub post_service_url: String,
    /// Timeline shape: `FEEDLINE_TIMELINE_CAP` (800), `FEEDLINE_CELEBRITY_THRESHOLD` (10000),
    /// `FEEDLINE_BACKFILL_POSTS` (200), `FEEDLINE_POST_CACHE_TTL_SECS` (604800).
    pub timelines: TimelineConfig,
    /// (In `timelines.replication`) `FEEDLINE_FANOUT_WAIT_REPLICAS`: replicas each master must
    /// acknowledge an event's writes to (`WAIT`) before it counts as applied, at most those
    /// connected (default 0: off); `FEEDLINE_FANOUT_WAIT_TIMEOUT_MS`: the `WAIT` timeout, after
    /// which the event is answered RETRY (default 100).
    ///
    /// `FEEDLINE_FANOUT_LANES`: events of one author are applied in order on one lane; lanes
    /// run concurrently (default 64).
    pub lanes: usize,
    /// `FEEDLINE_FANOUT_MAX_UNACKED`: events read from a stream and not yet answered, at most;
    /// beyond it the stream is not read (flow control pushes back on the relay) (default 10000).
    pub max_unacked: usize,
    /// `FEEDLINE_FANOUT_MAX_UNACKED_BYTES`: the encoded bytes of those events, at most; beyond
    /// it the stream is not read either (default 64 MiB; 1 MiB to 2 GiB).
    pub max_unacked_bytes: usize,
    /// `FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE` (`true` or `false`, default true): whether a
    /// settled change of the cluster's slot owners (a failover) asks a relay to replay the
    /// retained outbox window. With false the change is only logged and the repair waits for
    /// `ReplayOutbox`: for an operator whose window is too large to replay unasked.
    pub replay_on_topology_change: bool,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let shared = TimelineEnv::from_env(env)?;
        let timeline_cap = shared.timeline_cap;
        let defaults = TimelineConfig::default();
        let celebrity_threshold = ranged_or(
            env,
            "FEEDLINE_CELEBRITY_THRESHOLD",
            defaults.celebrity_threshold,
            1..=100_000_000,
        )?;
        let backfill_posts = ranged_or(
            env,
            "FEEDLINE_BACKFILL_POSTS",
            defaults.backfill_posts,
            0..=timeline_cap,
        )?;
        let replication = replication_from_env(env, defaults.replication)?;
        let lanes = ranged_or(env, "FEEDLINE_FANOUT_LANES", 64usize, 1..=4096)?;
        let max_unacked = ranged_or(
            env,
            "FEEDLINE_FANOUT_MAX_UNACKED",
            10_000usize,
            1..=1_000_000,
        )?;
        let max_unacked_bytes = ranged_or(
            env,
            "FEEDLINE_FANOUT_MAX_UNACKED_BYTES",
            crate::api::DEFAULT_MAX_UNACKED_BYTES,
            1 << 20..=1 << 31,
        )?;
        let replay_on_topology_change =
            parse_or(env, "FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE", true)?;
        Ok(Self {
            server: ServerConfig::from_env(env, DEFAULT_PORT)?,
            redis_url: shared.redis_url,
            post_service_url: shared.post_service_url,
            timelines: TimelineConfig {
                timeline_cap,
                celebrity_threshold,
                backfill_posts,
                post_cache_ttl: shared.post_cache_ttl,
                replication,
                ..defaults
            },
            lanes,
            max_unacked,
            max_unacked_bytes,
            replay_on_topology_change,
        })
    }
}

/// The durability step's two settings.
fn replication_from_env(
    env: &Env,
    defaults: ReplicationWait,
) -> Result<ReplicationWait, ConfigError> {
    let replicas = ranged_or(
        env,
        "FEEDLINE_FANOUT_WAIT_REPLICAS",
        defaults.replicas,
        0..=16,
    )?;
    let timeout = millis_or(
        env,
        "FEEDLINE_FANOUT_WAIT_TIMEOUT_MS",
        defaults.timeout,
        1..=60_000,
    )?;
    Ok(ReplicationWait { replicas, timeout })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_env(&Env::new()).unwrap();
        assert_eq!(c.server.listen_addr.port(), 50052);
        assert_eq!(c.timelines.timeline_cap, 800);
        assert_eq!(c.timelines.celebrity_threshold, 10_000);
        assert_eq!(c.timelines.replication.replicas, 0);
        assert_eq!(c.timelines.replication.timeout.as_millis(), 100);
        let env: Env = [("FEEDLINE_FANOUT_WAIT_TIMEOUT_MS".to_owned(), "0".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_FANOUT_WAIT_TIMEOUT_MS"
        );
        let env: Env = [("FEEDLINE_REDIS_URL".to_owned(), "redis://x:1".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_REDIS_URL"
        );
        let env: Env = [("FEEDLINE_BACKFILL_POSTS".to_owned(), "900".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_BACKFILL_POSTS"
        );
    }

    #[test]
    fn replay_on_topology_change_is_a_bool() {
        let read = |value: &str| {
            let env: Env = [(
                "FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE".to_owned(),
                value.to_owned(),
            )]
            .into();
            Config::from_env(&env)
        };
        assert!(
            Config::from_env(&Env::new())
                .unwrap()
                .replay_on_topology_change
        );
        assert!(!read("false").unwrap().replay_on_topology_change);
        assert!(read("true").unwrap().replay_on_topology_change);
        let error = read("no").unwrap_err();
        assert_eq!(error.variable, "FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE");
        assert_eq!(error.value, "no");
    }
}
