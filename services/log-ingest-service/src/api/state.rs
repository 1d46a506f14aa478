//! What the handlers share: the database and pipeline once connected, the key cache, the
//! admin token and the shutdown token that ends open streams.

use std::sync::{Arc, OnceLock};

use feedline_service_kit::CancellationToken;
use feedline_service_kit::ids::IdGenerator;
use tonic::metadata::MetadataMap;

use super::auth::KeyCache;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::store::Store;

/// The database and the pipeline writing to it.
#[derive(Clone, Debug)]
pub struct Ready {
    /// The database.
    pub store: Store,
    /// The ingest pipeline.
    pub pipeline: Pipeline,
}

/// Shared by every handler.
#[derive(Debug)]
pub struct AppState {
    ready: OnceLock<Ready>,
    /// Known app keys.
    pub keys: KeyCache,
    /// CreateApp's token, if one is configured.
    pub admin_token: Option<String>,
    /// Ids of new apps.
    pub ids: IdGenerator,
    /// Cancelled on SIGTERM: open IngestStreams stop reading, answer what they took, and end.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State without a database yet: calls answer UNAVAILABLE until [`AppState::set_ready`].
    pub fn new(
        admin_token: Option<String>,
        node_id: u16,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            ready: OnceLock::new(),
            keys: KeyCache::default(),
            admin_token,
            ids: IdGenerator::new(node_id),
            shutdown,
        })
    }

    /// Installs the connected database and its pipeline (once).
    pub fn set_ready(&self, ready: Ready) {
        let _ = self.ready.set(ready);
    }

    /// The database and pipeline and the app of the call's `x-app-key`: UNAVAILABLE while
    /// still connecting, UNAUTHENTICATED for a missing or unknown key.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<(&Ready, i64)> {
        let ready = self.ready()?;
        let app_id = self.keys.authenticate(metadata, &ready.store).await?;
        Ok((ready, app_id))
    }

    /// The database and pipeline, or UNAVAILABLE while still connecting.
    pub fn ready(&self) -> Result<&Ready> {
        self.ready
            .get()
            .ok_or_else(|| Error::Unavailable("still connecting to the database".into()))
    }
}
