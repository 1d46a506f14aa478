//! What the handlers share: the database and pipeline once connected, the key cache, the
//! admin token and the shutdown token that ends open streams.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use feedline_service_kit::CancellationToken;
use feedline_service_kit::ids::IdGenerator;
use tonic::metadata::MetadataMap;

use super::auth::app_key_hash;
use crate::apps::KeyCache;
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

/// The app a call's key authenticates, and the key's hash (never the key).
#[derive(Clone, Debug)]
pub struct KeyHolder {
    /// The app.
    pub app_id: i64,
    /// SHA-256 of the key, to check it again later.
    pub key_hash: String,
}

/// Shared by every handler.
#[derive(Debug)]
pub struct AppState {
    ready: OnceLock<Ready>,
    /// What each app key was recently found to be.
    pub keys: KeyCache,
    /// The admin RPCs' token, if one is configured.
    pub admin_token: Option<String>,
    /// Ids of new apps, keys and records; refuses until `lib.rs` leases a node id for it, and
    /// again whenever that lease is lost.
    pub ids: Arc<IdGenerator>,
    /// Cancelled on SIGTERM: open IngestStreams stop reading, answer what they took, and end.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State without a database yet: calls answer UNAVAILABLE until [`AppState::set_ready`].
    /// `key_ttl`: how long what is known of an app key is trusted before it is looked up again.
    pub fn new(
        admin_token: Option<String>,
        ids: Arc<IdGenerator>,
        key_ttl: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            ready: OnceLock::new(),
            keys: KeyCache::new(key_ttl),
            admin_token,
            ids,
            shutdown,
        })
    }

    /// Installs the connected database and its pipeline (once).
    pub fn set_ready(&self, ready: Ready) {
        let _ = self.ready.set(ready);
    }

    /// The database and pipeline and the key of the call's `x-app-key`: UNAVAILABLE while
    /// still connecting, UNAUTHENTICATED for a missing, unknown or revoked key.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<(&Ready, KeyHolder)> {
        let ready = self.ready()?;
        let key_hash = app_key_hash(metadata)?;
        let app_id = self.app_of(&ready.store, &key_hash).await?;
        Ok((ready, KeyHolder { app_id, key_hash }))
    }

    /// Checks `holder`'s key again (a long IngestStream, per batch): from the cache, so it
    /// costs a lookup only once per TTL; UNAUTHENTICATED once the key is revoked.
    pub async fn recheck(&self, store: &Store, holder: &KeyHolder) -> Result<()> {
        self.app_of(store, &holder.key_hash).await.map(drop)
    }

    async fn app_of(&self, store: &Store, key_hash: &str) -> Result<i64> {
        self.keys
            .app_of(key_hash, || store.key_by_hash(key_hash))
            .await
    }

    /// The database and pipeline, or UNAVAILABLE while still connecting.
    pub fn ready(&self) -> Result<&Ready> {
        self.ready
            .get()
            .ok_or_else(|| Error::Unavailable("still connecting to the database".into()))
    }
}
