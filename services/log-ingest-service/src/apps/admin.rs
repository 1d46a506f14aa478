//! The admin side of apps: create one with its first key, issue more keys (rotation), revoke
//! one, list them. Knows nothing of gRPC; the admin check happens before, in `api/auth.rs`.

use feedline_service_kit::ids::IdGenerator;

use super::cache::KeyCache;
use super::secret::{hash_key, new_key};
use crate::error::{Error, Result};
use crate::pipeline::now_nanos;
use crate::store::{App, AppKey, AppRef, KeyRow, Store};

/// A key just issued: its row and the secret, which is shown once and never stored.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The key.
    pub key: AppKey,
    /// What the client sends as `x-app-key`.
    pub secret: String,
}

/// A new key of `app_id`, and the row that stores it.
fn issue(ids: &IdGenerator, app_id: i64) -> Result<(KeyRow, Issued)> {
    let secret = new_key();
    let key = AppKey {
        id: ids.next()?.0,
        app_id,
        create_unix_nano: now_nanos(),
        revoke_unix_nano: None,
    };
    let row = KeyRow {
        key: key.clone(),
        hash: hash_key(&secret),
    };
    Ok((row, Issued { key, secret }))
}

/// Registers app `name` with its first key; ALREADY_EXISTS when the name is taken.
pub async fn create_app(store: &Store, ids: &IdGenerator, name: String) -> Result<(App, Issued)> {
    let app = App {
        id: ids.next()?.0,
        name,
        create_unix_nano: now_nanos(),
    };
    let (row, issued) = issue(ids, app.id)?;
    store.create_app(&app, &row).await?;
    tracing::info!(app = %app.name, app_id = app.id, key_id = issued.key.id, "app created");
    Ok((app, issued))
}

/// Issues another key of `app`; its other keys stay valid. NOT_FOUND for no such app.
pub async fn rotate(store: &Store, ids: &IdGenerator, app: &AppRef) -> Result<Issued> {
    let app = find(store, app).await?;
    let (row, issued) = issue(ids, app.id)?;
    store.add_key(&row).await?;
    tracing::info!(app = %app.name, app_id = app.id, key_id = issued.key.id, "app key issued");
    Ok(issued)
}

/// Revokes key `key_id` (again: a no-op keeping the first time), refusing it on this replica at
/// once. NOT_FOUND for no such key.
pub async fn revoke(store: &Store, cache: &KeyCache, key_id: i64) -> Result<AppKey> {
    let (key, hash) = store
        .revoke_key(key_id, now_nanos())
        .await?
        .ok_or_else(|| Error::NotFound(format!("no app key {key_id}")))?;
    cache.revoked(&hash);
    tracing::info!(app_id = key.app_id, key_id, "app key revoked");
    Ok(key)
}

/// Every key of `app`, oldest first. NOT_FOUND for no such app.
pub async fn list(store: &Store, app: &AppRef) -> Result<Vec<AppKey>> {
    let app = find(store, app).await?;
    store.list_keys(app.id).await
}

async fn find(store: &Store, app: &AppRef) -> Result<App> {
    store.find_app(app).await?.ok_or_else(|| {
        Error::NotFound(match app {
            AppRef::Id(id) => format!("no app {id}"),
            AppRef::Name(name) => format!("no app named {name:?}"),
        })
    })
}
