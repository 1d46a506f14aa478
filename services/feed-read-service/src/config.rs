//! feed-read-service configuration, read from the environment before any port is bound.

use std::time::Duration;

use feedline_redis::TimelineEnv;
use feedline_service_kit::config::millis_or;
use feedline_service_kit::{ConfigError, Env, ServerConfig};

use crate::DEFAULT_PORT;
use crate::feed::{DEFAULT_CELEBRITIES_REFRESH, FeedConfig};

/// How long a Redis command of a read may take by default: reads are single round trips of a
/// few entries, so a second is an outage, not a slow answer.
pub const DEFAULT_REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything feed-read-service reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address, timeouts, limits (`FEEDLINE_LISTEN_ADDR`, ...).
    pub server: ServerConfig,
    /// `FEEDLINE_REDIS_URL`: the cluster the timelines live in, as
    /// `redis-cluster://host:port?node=host:port&...` (default: `cargo xtask up`'s).
    pub redis_url: String,
    /// `FEEDLINE_POST_SERVICE_URL`: where cache misses and missing timelines are fetched
    /// from (default `http://127.0.0.1:50051`).
    pub post_service_url: String,
    /// `FEEDLINE_REDIS_COMMAND_TIMEOUT_MS` (100 to 10,000; default 1,000): how long one Redis
    /// command may take, waiting included, before the read answers UNAVAILABLE. While a
    /// master is dead and not yet replaced, the client holds every command; this bounds how
    /// long a read waits for that.
    pub redis_command_timeout: Duration,
    /// `FEEDLINE_TIMELINE_CAP` (800) and `FEEDLINE_POST_CACHE_TTL_SECS` (604800): the same
    /// variables, with the same values, as fanout-service's; and
    /// `FEEDLINE_CELEBRITIES_REFRESH_MS` (0 to 60,000; default 1,000): how long one read of the
    /// `celebrities` set serves later reads.
    pub feed: FeedConfig,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let shared = TimelineEnv::from_env(env)?;
        Ok(Self {
            server: ServerConfig::from_env(env, DEFAULT_PORT)?,
            redis_url: shared.redis_url,
            post_service_url: shared.post_service_url,
            redis_command_timeout: millis_or(
                env,
                "FEEDLINE_REDIS_COMMAND_TIMEOUT_MS",
                DEFAULT_REDIS_COMMAND_TIMEOUT,
                100..=10_000,
            )?,
            feed: FeedConfig {
                timeline_cap: shared.timeline_cap,
                post_cache_ttl: shared.post_cache_ttl,
                celebrities_refresh: millis_or(
                    env,
                    "FEEDLINE_CELEBRITIES_REFRESH_MS",
                    DEFAULT_CELEBRITIES_REFRESH,
                    0..=60_000,
                )?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_env(&Env::new()).unwrap();
        assert_eq!(c.server.listen_addr.port(), 50053);
        assert_eq!(c.feed, FeedConfig::default());
        assert_eq!(c.feed.timeline_cap, 800);
        assert_eq!(c.feed.celebrities_refresh, Duration::from_secs(1));
        assert_eq!(c.redis_command_timeout, Duration::from_secs(1));
        for (variable, value) in [
            ("FEEDLINE_TIMELINE_CAP", "5"),
            ("FEEDLINE_CELEBRITIES_REFRESH_MS", "60001"),
            ("FEEDLINE_CELEBRITIES_REFRESH_MS", "soon"),
            ("FEEDLINE_REDIS_COMMAND_TIMEOUT_MS", "50"),
            ("FEEDLINE_REDIS_COMMAND_TIMEOUT_MS", "10001"),
        ] {
            let env: Env = [(variable.to_owned(), value.to_owned())].into();
            assert_eq!(Config::from_env(&env).unwrap_err().variable, variable);
        }
        let env: Env = [("FEEDLINE_CELEBRITIES_REFRESH_MS".to_owned(), "0".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap().feed.celebrities_refresh,
            Duration::ZERO
        );
    }
}
