//! The settings both sides of the timelines read from the same variables, so that they agree.

use std::time::Duration;

use feedline_service_kit::config::{ranged_or, url_or};
use feedline_service_kit::{ConfigError, Env};

/// The local cluster of `cargo xtask up` (ports 30001-30003): every service's default.
pub const DEFAULT_URL: &str =
    "redis-cluster://127.0.0.1:30001?node=127.0.0.1:30002&node=127.0.0.1:30003";

/// What a cluster URL starts with (`redis-cluster://host:port?node=host:port&...`).
pub const URL_SCHEMES: &[&str] = &["redis-cluster://", "rediss-cluster://"];

/// Entries a timeline (and an author's list) keeps by default; Twitter's figure is 800.
pub const DEFAULT_TIMELINE_CAP: usize = 800;

/// Lifetime of a cached post (and of a deleted post's tombstone) by default: a week.
pub const DEFAULT_POST_CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// `FEEDLINE_REDIS_URL` (default [`DEFAULT_URL`]): the one reading of the cluster's address,
/// for every service that reaches it.
pub fn redis_url(env: &Env) -> Result<String, ConfigError> {
    url_or(env, "FEEDLINE_REDIS_URL", DEFAULT_URL, URL_SCHEMES)
}

/// What fanout-service and feed-read-service both read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEnv {
    /// `FEEDLINE_REDIS_URL` (default [`DEFAULT_URL`]).
    pub redis_url: String,
    /// `FEEDLINE_POST_SERVICE_URL`: where what Redis lacks is rebuilt from
    /// (default `http://127.0.0.1:50051`).
    pub post_service_url: String,
    /// `FEEDLINE_TIMELINE_CAP` (10 to 100,000; default 800).
    pub timeline_cap: usize,
    /// `FEEDLINE_POST_CACHE_TTL_SECS` (60 s to a year; default a week).
    pub post_cache_ttl: Duration,
}

impl TimelineEnv {
    /// Reads and validates the shared variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let redis_url = redis_url(env)?;
        let post_service_url = url_or(
            env,
            "FEEDLINE_POST_SERVICE_URL",
            "http://127.0.0.1:50051",
            &["http://", "https://"],
        )?;
        let timeline_cap = ranged_or(
            env,
            "FEEDLINE_TIMELINE_CAP",
            DEFAULT_TIMELINE_CAP,
            10..=100_000,
        )?;
        let ttl_secs = ranged_or(
            env,
            "FEEDLINE_POST_CACHE_TTL_SECS",
            DEFAULT_POST_CACHE_TTL.as_secs(),
            60..=365 * 24 * 3600,
        )?;
        Ok(Self {
            redis_url,
            post_service_url,
            timeline_cap,
            post_cache_ttl: Duration::from_secs(ttl_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = TimelineEnv::from_env(&Env::new()).unwrap();
        assert_eq!(c.redis_url, DEFAULT_URL);
        assert_eq!(c.timeline_cap, 800);
        for (variable, value) in [
            ("FEEDLINE_REDIS_URL", "redis://x:1"),
            ("FEEDLINE_POST_SERVICE_URL", "localhost:50051"),
            ("FEEDLINE_TIMELINE_CAP", "5"),
            ("FEEDLINE_POST_CACHE_TTL_SECS", "0"),
        ] {
            let env: Env = [(variable.to_owned(), value.to_owned())].into();
            assert_eq!(TimelineEnv::from_env(&env).unwrap_err().variable, variable);
        }
    }
}
