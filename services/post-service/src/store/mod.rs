//! The domain of post-service: users, follows and posts in the database, each write committed
//! with its outbox event in one transaction. Knows nothing of gRPC.

mod dead_letters;
mod follows;
mod group;
mod outbox;
mod posts;
mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait as _,
};
use sea_orm_migration::MigratorTrait as _;
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard, Notify};

use crate::error::{Error, Result};
use crate::ids::{IdError, IdGenerator, LeaseError, LeaseSettings, NodeLease};
use crate::migration::Migrator;
use group::{BoxFuture, GroupCommit, MAX_QUEUED};
// The database error classification is the kit's, shared by every service: an unreachable
// database is `Unavailable` (retryable), anything else `Internal`.
use feedline_service_kit::database::db_error;
feedline_service_kit::from_db_err!(crate::error::Error);

pub use dead_letters::{DeadLetter, GiveUp, MAX_REQUEUE};
pub use follows::FollowChange;
pub use outbox::{AppliedEvent, OutboxFront};
pub use posts::{NewPost, PostWrite};
pub use users::NewUser;

/// The user row as the domain returns it.
pub type User = crate::entity::user::Model;
/// The post row as the domain returns it.
pub type Post = crate::entity::post::Model;

/// Where a listing resumes, and how much it returns.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// At most this many items.
    pub size: u64,
    /// Resume after this key (exclusive); `None` for the first page.
    pub after: Option<i64>,
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct PageOf<T> {
    /// The items.
    pub items: Vec<T>,
    /// The key to resume after, when more items exist.
    pub next_after: Option<i64>,
}

impl<T> PageOf<T> {
    /// Cuts a fetch of `size + 1` rows into a page: the extra row only proves there is more.
    fn from_probe(mut rows: Vec<T>, size: u64, key: impl Fn(&T) -> i64) -> Self {
        let more = rows.len() as u64 > size;
        rows.truncate(size as usize);
        let next_after = if more { rows.last().map(&key) } else { None };
        Self {
            items: rows,
            next_after,
        }
    }
}

/// Database handle plus what every write needs.
#[derive(Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Reports the pool's use (`db.client.connection.*`) while the store lives.
    _pool_metrics: feedline_service_kit::database::PoolMetrics,
    /// Refuses once the node-id lease is lost (the caller hears UNAVAILABLE).
    ids: Arc<IdGenerator>,
    /// Keeps `ids` leased; released by [`Store::close`], and dropped with the store (then the
    /// lease expires after its TTL).
    lease: NodeLease,
    /// SQLite has one writer at a time; a transaction that reads and then writes fails with
    /// SQLITE_BUSY instead of waiting when another writer got in first. Queueing writers here
    /// turns that into waiting. `None` on PostgreSQL and MySQL, which lock rows themselves.
    /// Shared with the group-commit writer, which holds it for each group's transaction.
    write_gate: Option<Arc<Mutex<()>>>,
    /// SQLite only: the writer that runs write calls in groups, one COMMIT per group. `None`
    /// elsewhere: each call has a transaction of its own. Closed by [`Store::close`].
    group: Option<GroupCommit>,
    /// Signalled after every commit that appended to the outbox, so the relay in this process
    /// sends at once instead of at its next poll.
    outbox_signal: Arc<Notify>,
}

impl Store {
    /// Connects (pool of at most `max_connections`), applies every pending migration and
    /// leases node id `node_id` for the id generator (tests; the service leases any free id).
    pub async fn connect(
        url: &str,
        max_connections: u32,
        node_id: u16,
    ) -> Result<Self, LeaseError> {
        Self::connect_leased(url, max_connections, &LeaseSettings::pinned(node_id)).await
    }

    /// Connects, applies every pending migration, then leases a node id as `lease` says. A
    /// [`LeaseError::Fatal`] (clock too far behind, pinned id held) should fail the start.
    pub async fn connect_leased(
        url: &str,
        max_connections: u32,
        lease: &LeaseSettings,
    ) -> Result<Self, LeaseError> {
        let unavailable = |e: Error| LeaseError::Unavailable(e.to_string());
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        if sqlite {
            // WAL lets readers run while a write commits; the setting persists in the file.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Migrator::up(&db, None)
            .await
            .map_err(|e| unavailable(e.into()))?;
        let ids = Arc::new(IdGenerator::new());
        let lease = match NodeLease::start(url, lease, ids.clone()).await {
            Ok(lease) => lease,
            Err(error) => {
                let _ = db.close_by_ref().await;
                return Err(error);
            }
        };
        let write_gate = sqlite.then(|| Arc::new(Mutex::new(())));
        let outbox_signal = Arc::new(Notify::new());
        let group = write_gate.as_ref().map(|gate| {
            GroupCommit::start(db.clone(), gate.clone(), outbox_signal.clone(), MAX_QUEUED)
        });
        Ok(Self {
            _pool_metrics: feedline_service_kit::database::pool_metrics("post-service", &db),
            db,
            ids,
            lease,
            write_gate,
            group,
            outbox_signal,
        })
    }

    /// The node id this store's ids carry now, if one is leased.
    pub fn node_id(&self) -> Option<u16> {
        self.ids.node_id()
    }

    /// Answers once the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Closes the pool; in-flight queries finish first, and on SQLite every queued write call
    /// is written and answered first (later ones answer UNAVAILABLE). Releases the node id.
    pub async fn close(&self) -> Result<()> {
        if let Some(group) = &self.group {
            group.close().await;
        }
        // Every write is answered: no id is drawn any more, the node id is free for the next.
        self.lease.release().await;
        Ok(self.db.close_by_ref().await?)
    }

    /// Wakes when outbox rows were committed (a permit is stored if nobody waits).
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    /// Whether this store is SQLite (one writer, so one relay).
    pub fn is_sqlite(&self) -> bool {
        self.write_gate.is_some()
    }

    /// The database backend, for the few statements that differ.
    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Waits for the SQLite write gate (no-op elsewhere); hold the guard for the transaction.
    async fn write_gate(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// Begins a write transaction; call it with the write gate held. On SQLite it is
    /// `BEGIN IMMEDIATE`: the write lock is taken at BEGIN, where SQLite waits for it (busy
    /// timeout). A deferred transaction that reads first gets SQLITE_BUSY at once when it
    /// upgrades to write while another connection still holds the lock, and one can: a
    /// transaction dropped on an early return inside the gate rolls back asynchronously, after
    /// the gate is released. Other databases ignore the mode.
    async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Runs one write call's statements (`work`) and commits them, with the outbox rows they
    /// appended; answers only once they are durable. On SQLite the call joins the next group of
    /// the group-commit writer (its own savepoint, a shared COMMIT); elsewhere it gets a
    /// transaction of its own. An `Err` from `work` commits nothing of it.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T>> + Send + 'static,
    {
        if let Some(group) = &self.group {
            return group.submit(work).await;
        }
        let txn = self.begin_write().await?;
        match work(&txn).await {
            Ok(value) => {
                txn.commit().await?;
                self.outbox_signal.notify_one();
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed write");
                }
                Err(error)
            }
        }
    }
}

impl From<IdError> for Error {
    /// No id without a lease: retryable, on this replica once it leases again or on another.
    fn from(error: IdError) -> Self {
        Error::Unavailable(format!("no ids: {error}"))
    }
}
