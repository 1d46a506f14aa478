//! log-ingest-service configuration, read from the environment before any port is bound.

use std::time::Duration;

use feedline_service_kit::config::{millis_or, parse_or, ranged_or};
use feedline_service_kit::database::database_url;
use feedline_service_kit::ids::LeaseSettings;
use feedline_service_kit::{ConfigError, Env, ServerConfig};

use crate::pipeline::{FaultPlan, PipelineConfig};

/// log-ingest-service's well-known port.
pub const DEFAULT_PORT: u16 = 50054;

/// Everything log-ingest-service reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address, timeouts, limits (`FEEDLINE_LISTEN_ADDR`, ...).
    pub server: ServerConfig,
    /// `FEEDLINE_DATABASE_URL`: `sqlite://PATH?mode=rwc`, `postgres://...` or `mysql://...`
    /// (default `sqlite://feedline-logs.db?mode=rwc`).
    pub database_url: String,
    /// `FEEDLINE_DB_MAX_CONNECTIONS`: pool size (default 10, the seed's pool). The writer pool
    /// leaves one connection for queries and key lookups.
    pub db_max_connections: u32,
    /// The node-id lease of the id generator: `FEEDLINE_NODE_ID` (a pinned id, still leased;
    /// unset leases the lowest free one), `FEEDLINE_NODE_LEASE_TTL_SECS`,
    /// `FEEDLINE_NODE_CLOCK_WAIT_MS`.
    pub node_lease: LeaseSettings,
    /// `FEEDLINE_ADMIN_TOKEN`: when set, the admin RPCs (CreateApp and the key RPCs) require
    /// it in `x-admin-token`. With it unset and bearer tokens off, they are refused.
    pub admin_token: Option<String>,
    /// `FEEDLINE_APP_KEY_CACHE_TTL_MS`: how long a replica trusts what it looked up about an
    /// app key, so how soon a key revoked elsewhere is refused here (default 5000; 0 looks
    /// every call up).
    pub app_key_cache_ttl: Duration,
    /// The queue, the batcher and the writers.
    pub pipeline: PipelineConfig,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let database_url = database_url(env, "sqlite://feedline-logs.db?mode=rwc")?;
        let db_max_connections = ranged_or(env, "FEEDLINE_DB_MAX_CONNECTIONS", 10u32, 2..=1000)?;
        let node_lease = LeaseSettings::from_env(env)?;
        let admin_token: String = parse_or(env, "FEEDLINE_ADMIN_TOKEN", String::new())?;

        // One connection stays free for queries and key lookups, so reads never starve.
        let max_workers = db_max_connections as usize - 1;
        let default_workers = max_workers.min(4);
        let workers = ranged_or(
            env,
            "FEEDLINE_INGEST_WORKERS",
            default_workers,
            1..=max_workers,
        )?;
        let queue_records = ranged_or(
            env,
            "FEEDLINE_INGEST_QUEUE_RECORDS",
            200_000usize,
            1000..=10_000_000,
        )?;
        let queue_mib = ranged_or(env, "FEEDLINE_INGEST_QUEUE_MIB", 128usize, 8..=65_536)?;
        let batch_records = ranged_or(env, "FEEDLINE_INGEST_BATCH_RECORDS", 4000usize, 1..=5000)?;
        let batch_mib = ranged_or(env, "FEEDLINE_INGEST_BATCH_MIB", 8usize, 1..=256)?;
        Ok(Self {
            server: ServerConfig::from_env(env, DEFAULT_PORT)?,
            database_url,
            db_max_connections,
            node_lease,
            admin_token: (!admin_token.is_empty()).then_some(admin_token),
            app_key_cache_ttl: millis_or(
                env,
                "FEEDLINE_APP_KEY_CACHE_TTL_MS",
                Duration::from_secs(5),
                0..=300_000,
            )?,
            pipeline: PipelineConfig {
                queue_records,
                queue_bytes: queue_mib << 20,
                batch_records,
                batch_bytes: batch_mib << 20,
                linger: millis_or(env, "FEEDLINE_INGEST_LINGER_MS", Duration::ZERO, 0..=10_000)?,
                workers,
                retry_for: millis_or(
                    env,
                    "FEEDLINE_INGEST_RETRY_MS",
                    Duration::from_secs(3),
                    0..=600_000,
                )?,
                faults: FaultPlan::default(),
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
        assert_eq!(c.server.listen_addr.port(), 50054);
        assert!(c.database_url.starts_with("sqlite:"));
        assert_eq!(c.pipeline.workers, 4);
        assert!(c.admin_token.is_none());
        assert_eq!(c.app_key_cache_ttl, Duration::from_secs(5));
        for (var, value) in [
            ("FEEDLINE_DATABASE_URL", "redis://x"),
            ("FEEDLINE_NODE_ID", "1024"),
            ("FEEDLINE_INGEST_BATCH_RECORDS", "0"),
            ("FEEDLINE_INGEST_QUEUE_MIB", "1"),
            ("FEEDLINE_APP_KEY_CACHE_TTL_MS", "300001"),
        ] {
            assert_eq!(
                Config::from_env(&Env::from_pairs(&[(var, value)]))
                    .unwrap_err()
                    .variable,
                var
            );
        }
        // The writer pool must leave a connection for reads.
        let e = Config::from_env(&Env::from_pairs(&[
            ("FEEDLINE_DB_MAX_CONNECTIONS", "4"),
            ("FEEDLINE_INGEST_WORKERS", "4"),
        ]))
        .unwrap_err();
        assert_eq!(e.variable, "FEEDLINE_INGEST_WORKERS");
    }
}
