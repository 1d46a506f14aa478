//! App keys: generated for CreateApp, checked on every call from `x-app-key`. Only the key's
//! SHA-256 is stored; known keys are cached, so a steady sender costs no lookup per call.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tonic::metadata::MetadataMap;

use crate::error::{Error, Result};
use crate::store::Store;

/// The metadata key carrying the app key.
pub const APP_KEY_HEADER: &str = "x-app-key";
/// The metadata key carrying the admin token for CreateApp.
pub const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// A new random key: `flk_` and 43 characters (256 bits).
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("flk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Key hash → app id, for keys seen valid. Keys are never revoked today, so entries never
/// go stale; revocation would clear this.
#[derive(Debug, Default)]
pub struct KeyCache(RwLock<HashMap<String, i64>>);

impl KeyCache {
    /// The app of the call's `x-app-key`: UNAUTHENTICATED when missing or unknown.
    pub async fn authenticate(&self, metadata: &MetadataMap, store: &Store) -> Result<i64> {
        let key = metadata
            .get(APP_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::Unauthenticated(format!("missing {APP_KEY_HEADER} metadata")))?;
        let hash = hash_key(key);
        if let Some(app) = self.read().get(&hash) {
            return Ok(*app);
        }
        let app = store
            .app_by_key_hash(&hash)
            .await?
            .ok_or_else(|| Error::Unauthenticated("unknown app key".into()))?;
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, app);
        Ok(app)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, i64>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Checks `x-admin-token` against the configured token (none configured: anyone may create).
pub fn check_admin(metadata: &MetadataMap, token: Option<&str>) -> Result<()> {
    let Some(expected) = token else {
        return Ok(());
    };
    let given = metadata
        .get(ADMIN_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Compare hashes: equal length, so the comparison time says nothing about the token.
    if hash_key(given) == hash_key(expected) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "CreateApp needs the admin token in {ADMIN_TOKEN_HEADER}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(hash_key(&a).len(), 64);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn admin_token() {
        let mut md = MetadataMap::new();
        assert!(check_admin(&md, None).is_ok());
        assert!(check_admin(&md, Some("s3cret")).is_err());
        md.insert(ADMIN_TOKEN_HEADER, "s3cret".parse().unwrap());
        assert!(check_admin(&md, Some("s3cret")).is_ok());
        assert!(check_admin(&md, Some("other")).is_err());
    }
}
