//! What the handlers share: the store, once the database has been reached.

use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::store::Store;

/// Shared by every handler. The store is set once the database is reachable and migrated;
/// until then calls answer UNAVAILABLE (and health says NOT_SERVING), so the process can start
/// before its database does, as containers often must.
#[derive(Debug, Default)]
pub struct AppState {
    store: OnceCell<Store>,
}

impl AppState {
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
