//! A migrated store on a fresh database, for the store tests that run on every backend
//! (`on_every_backend!` finds it as `crate::common`).

use feedline_test_harness::{Backend, TestDatabase};
use post_service::store::Store;
use sea_orm::{Database, DatabaseConnection};

/// A migrated store on a fresh database, and a second connection to read and write rows.
pub struct TestServer {
    pub store: Store,
    pub db: DatabaseConnection,
    /// Dropped last: the database goes away after the store that uses it.
    _database: TestDatabase,
}

impl TestServer {
    /// The store on `backend`; `None` when that backend is not enabled here.
    pub async fn start(backend: Backend) -> Option<Self> {
        let database = TestDatabase::create(backend).await.expect("database")?;
        let store = Store::connect(database.url(), 4, 0).await.expect("store");
        let db = Database::connect(database.url()).await.expect("connect");
        Some(Self {
            store,
            db,
            _database: database,
        })
    }

    /// Closes both connections.
    pub async fn stop(self) {
        let _ = self.store.close().await;
        let _ = self.db.close().await;
    }
}
