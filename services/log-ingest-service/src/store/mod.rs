//! The database side of log-ingest-service: apps and keys, bulk writes, queries. Knows nothing
//! of gRPC or of the pipeline that calls it.

mod apps;
mod copy;
mod keys;
mod query;
mod rows;
mod write;

use std::sync::Arc;
use std::time::Duration;

use feedline_service_kit::database::{PoolMetrics, pool_metrics};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait as _;

use crate::error::Result;
use crate::migration::Migrator;
// The database error classification is the kit's, shared by every service: an unreachable
// database is `Unavailable` (retryable), anything else `Internal`.
use feedline_service_kit::database::db_error;
feedline_service_kit::from_db_err!(crate::error::Error);

pub use apps::{App, AppRef};
pub use keys::{AppKey, KeyRow};
pub use query::RecordPage;

/// The pool and the backend-specific statements.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Whether first attempts take COPY (PostgreSQL); shared by the store's clones.
    copy_guard: Arc<copy::CopyGuard>,
    /// Reports the pool's use (`db.client.connection.*`) while the store lives.
    _pool_metrics: PoolMetrics,
}

impl Store {
    /// Connects (pool of at most `max_connections`) and applies every pending migration.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            // Short: a batch waiting for a connection to a dead database should fail and be
            // retried by the pipeline's policy, not hang in the pool.
            .acquire_timeout(Duration::from_secs(2))
            .sqlx_logging(false)
            // LIKE is case-sensitive on PostgreSQL and with MySQL's binary collation; make
            // SQLite agree, so `message_contains` means the same everywhere.
            .map_sqlx_sqlite_opts(|o| o.pragma("case_sensitive_like", "ON"));
        let db = Database::connect(options).await?;
        if db.get_database_backend() == DbBackend::Sqlite {
            // WAL lets queries run while a batch commits; the setting persists in the file.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Migrator::up(&db, None).await?;
        Ok(Self {
            _pool_metrics: pool_metrics("log-ingest-service", &db),
            db,
            copy_guard: Arc::default(),
        })
    }

    /// The database engine.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Answers once the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Closes the pool; in-flight statements finish first.
    pub async fn close(&self) -> Result<()> {
        Ok(self.db.close_by_ref().await?)
    }
}
