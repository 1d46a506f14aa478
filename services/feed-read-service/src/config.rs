//! feed-read-service configuration, read from the environment before any port is bound.

use feedline_redis::TimelineEnv;
use feedline_service_kit::{ConfigError, Env, ServerConfig};

use crate::DEFAULT_PORT;
use crate::feed::FeedConfig;

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
    /// `FEEDLINE_TIMELINE_CAP` (800) and `FEEDLINE_POST_CACHE_TTL_SECS` (604800): the same
    /// variables, with the same values, as fanout-service's.
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
            feed: FeedConfig {
                timeline_cap: shared.timeline_cap,
                post_cache_ttl: shared.post_cache_ttl,
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
        let env: Env = [("FEEDLINE_TIMELINE_CAP".to_owned(), "5".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_TIMELINE_CAP"
        );
    }
}
