//! post-service configuration, read from the environment before any port is bound.

use std::time::Duration;

use feedline_service_kit::config::{millis_or, parse_or, ranged_or};
use feedline_service_kit::database::database_url;
use feedline_service_kit::{ConfigError, Env, ServerConfig};

pub use crate::admission::AdmissionConfig;
use crate::ids::LeaseSettings;
pub use crate::rate_limit::RateLimitConfig;
pub use crate::relay::RelayConfig;

/// post-service's well-known port.
pub const DEFAULT_PORT: u16 = 50051;

/// Everything post-service reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address, timeouts, limits (`FEEDLINE_LISTEN_ADDR`, ...).
    pub server: ServerConfig,
    /// `FEEDLINE_DATABASE_URL`: `sqlite://PATH?mode=rwc`, `postgres://...` or `mysql://...`
    /// (default `sqlite://feedline.db?mode=rwc`, a file in the working directory).
    pub database_url: String,
    /// `FEEDLINE_DB_MAX_CONNECTIONS`: pool size (default 10).
    pub db_max_connections: u32,
    /// The node-id lease of the id generator: `FEEDLINE_NODE_ID` (a pinned id, still leased;
    /// unset leases the lowest free one), `FEEDLINE_NODE_LEASE_TTL_SECS`,
    /// `FEEDLINE_NODE_CLOCK_WAIT_MS`.
    pub node_lease: LeaseSettings,
    /// The outbox relay; off when `FEEDLINE_FANOUT_URL` is empty.
    pub relay: RelayConfig,
    /// Bounds on the fan-out backlog past which writes are refused (with the relay on).
    pub admission: AdmissionConfig,
    /// Per-user limits on posts and follows (`FEEDLINE_RATE_LIMIT_*`), counted in Redis.
    pub rate_limits: RateLimitConfig,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let database_url = database_url(env, "sqlite://feedline.db?mode=rwc")?;
        let db_max_connections = ranged_or(env, "FEEDLINE_DB_MAX_CONNECTIONS", 10u32, 1..=1000)?;
        let node_lease = LeaseSettings::from_env(env)?;
        let endpoints: String = parse_or(env, "FEEDLINE_FANOUT_URL", String::new())?;
        let endpoints: Vec<String> = endpoints
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = endpoints
            .iter()
            .find(|e| !e.starts_with("http://") && !e.starts_with("https://"))
        {
            return Err(ConfigError {
                variable: "FEEDLINE_FANOUT_URL".into(),
                value: bad.clone(),
                reason: "each address must start with http:// or https://".into(),
            });
        }
        let batch = ranged_or(env, "FEEDLINE_RELAY_BATCH", 500usize, 1..=1000)?;
        let window = ranged_or(env, "FEEDLINE_RELAY_WINDOW", 2000usize, 1..=10_000)?;
        let max_attempts = ranged_or(env, "FEEDLINE_RELAY_MAX_ATTEMPTS", 10u32, 1..=1000)?;
        let retention_min = ranged_or(env, "FEEDLINE_OUTBOX_RETENTION_MIN", 10u64, 0..=10_080)?;
        let defaults = AdmissionConfig::default();
        let max_backlog = ranged_or(
            env,
            "FEEDLINE_ADMISSION_MAX_BACKLOG",
            defaults.max_backlog,
            0..=100_000_000,
        )?;
        let admission = AdmissionConfig {
            max_lag: millis_or(
                env,
                "FEEDLINE_ADMISSION_MAX_LAG_MS",
                defaults.max_lag,
                0..=3_600_000,
            )?,
            max_backlog,
            refresh: millis_or(
                env,
                "FEEDLINE_ADMISSION_REFRESH_MS",
                defaults.refresh,
                5..=10_000,
            )?,
        };
        let server = ServerConfig::from_env(env, DEFAULT_PORT)?;
        let rate_limits = RateLimitConfig::from_env(env, server.auth.is_some())?;
        Ok(Self {
            admission,
            rate_limits,
            database_url,
            db_max_connections,
            node_lease,
            relay: RelayConfig {
                endpoints,
                batch,
                window,
                lease: millis_or(
                    env,
                    "FEEDLINE_RELAY_LEASE_MS",
                    Duration::from_secs(10),
                    1000..=600_000,
                )?,
                poll: millis_or(
                    env,
                    "FEEDLINE_RELAY_POLL_MS",
                    Duration::from_millis(200),
                    10..=60_000,
                )?,
                credential: server.credential.clone(),
                tls: server.tls.clone(),
                retention: Duration::from_secs(retention_min * 60),
                max_attempts,
                leader_ttl: millis_or(
                    env,
                    "FEEDLINE_RELAY_LEADER_TTL_MS",
                    Duration::from_secs(10),
                    1000..=600_000,
                )?,
            },
            server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = Config::from_env(&Env::new()).unwrap();
        assert_eq!(c.server.listen_addr.port(), 50051);
        assert!(c.database_url.starts_with("sqlite:"));
        let env: Env = [("FEEDLINE_DATABASE_URL".to_owned(), "redis://x".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_DATABASE_URL"
        );
        assert_eq!(c.admission, AdmissionConfig::default());
        let env: Env = [("FEEDLINE_ADMISSION_MAX_LAG_MS".to_owned(), "x".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_ADMISSION_MAX_LAG_MS"
        );
        assert_eq!(c.relay.retention, Duration::from_secs(600));
        assert_eq!(c.relay.max_attempts, 10);
        let env: Env = [("FEEDLINE_RELAY_MAX_ATTEMPTS".to_owned(), "0".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_RELAY_MAX_ATTEMPTS"
        );
        let env: Env = [(
            "FEEDLINE_OUTBOX_RETENTION_MIN".to_owned(),
            "10081".to_owned(),
        )]
        .into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_OUTBOX_RETENTION_MIN"
        );
        let env: Env = [("FEEDLINE_NODE_ID".to_owned(), "1024".to_owned())].into();
        assert_eq!(
            Config::from_env(&env).unwrap_err().variable,
            "FEEDLINE_NODE_ID"
        );
    }
}
