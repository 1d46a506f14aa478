//! What the handlers share: the store, once the database has been reached.

use tokio::sync::OnceCell;

use crate::admission::Admission;
use crate::error::{Error, Result};
use crate::store::Store;

/// Shared by every handler. The store is set once the database is reachable and migrated;
/// until then calls answer UNAVAILABLE (and health says NOT_SERVING), so the process can start
/// before its database does, as containers often must.
#[derive(Debug)]
pub struct AppState {
    store: OnceCell<Store>,
    admission: Admission,
}

impl AppState {
    /// No store yet; writes that enqueue fan-out pass `admission`.
    pub fn new(admission: Admission) -> Self {
        Self {
            store: OnceCell::new(),
            admission,
        }
    }

    /// The store for a write that enqueues fan-out: UNAVAILABLE while the database has not
    /// been reached, RESOURCE_EXHAUSTED while the fan-out backlog is past its bound.
    pub fn admit(&self) -> Result<&Store> {
        let store = self.store()?;
        self.admission.check()?;
        Ok(store)
    }

    /// Admission control, whose watcher runs beside the relay.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The store, or UNAVAILABLE while the database has not been reached yet.
    pub fn store(&self) -> Result<&Store> {
        self.store
            .get()
            .ok_or_else(|| Error::Unavailable("database not connected yet".into()))
    }

    /// Installs the store (once; later calls are ignored).
    pub fn set_store(&self, store: Store) {
        let _ = self.store.set(store);
    }
}
