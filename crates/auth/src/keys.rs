//! The keys tokens are verified with: the signing keys of a JWKS document (RFC 7517), as an
//! identity provider publishes them (`/.well-known/jwks.json`), and where that document comes
//! from (a file, the document itself, or a URL).

use std::path::Path;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::jwks_url::JwksUrl;

/// Why a JWKS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The document is not a JWKS.
    #[error("not a JWKS document: {0}")]
    Parse(String),
    /// The document holds no key this service can verify with.
    #[error("the JWKS holds no RS256, ES256 or EdDSA signing key")]
    NoUsableKey,
    /// The setting names a URL that cannot be fetched from.
    #[error("not a JWKS URL ({url}): {reason}")]
    Url { url: String, reason: String },
    /// The JWKS URL gave no usable key set at start, after retrying.
    #[error("cannot fetch the JWKS from {url} ({attempts} attempts): {source}")]
    Fetch {
        url: String,
        attempts: u32,
        source: crate::jwks_url::FetchError,
    },
}

/// Where the trusted keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A fixed set, read once (a file, or the document itself).
    Fixed(KeySet),
    /// A JWKS published at a URL: fetched at start, then kept fresh.
    Url(JwksUrl),
}

impl KeySource {
    /// The source a setting names: an `https://` (or `http://`) URL, the JWKS document itself
    /// (starting with `{`), or else a file's path. A file or document is read here; a URL is
    /// only checked, it is fetched when the verifier starts.
    pub fn from_setting(value: &str) -> Result<Self, KeyError> {
        let value = value.trim();
        let scheme = value.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|s| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"))
        {
            return JwksUrl::parse(value).map(Self::Url);
        }
        if value.starts_with('{') {
            return KeySet::from_json(value).map(Self::Fixed);
        }
        KeySet::from_file(Path::new(value)).map(Self::Fixed)
    }
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self::Fixed(keys)
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(keys) => write!(f, "{} fixed keys", keys.len()),
            Self::Url(source) => write!(f, "{}", source.url),
        }
    }
}

/// One key to verify with.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// The usable keys of a JWKS: RSA (RS256), EC P-256 (ES256) and Ed25519 (EdDSA) signing keys.
/// Others (encryption keys, symmetric keys, other curves) are skipped.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self
            .keys
            .iter()
            .map(|k| (k.kid.as_deref().unwrap_or("-"), k.alg))
            .collect();
        f.debug_struct("KeySet").field("keys", &kids).finish()
    }
}

impl KeySet {
    /// Reads a JWKS file.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses a JWKS document.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(text).map_err(|e| KeyError::Parse(e.to_string()))?;
        let keys: Vec<Key> = set.keys.iter().filter_map(usable).collect();
        if keys.is_empty() {
            return Err(KeyError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// The key a token with this header names: by `kid`, or the only key of its algorithm
    /// when the token names none.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let mut candidates = self.keys.iter().filter(|k| k.alg == alg);
        match kid {
            Some(kid) => candidates
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.key),
            None => {
                let first = candidates.next()?;
                candidates.next().is_none().then_some(&first.key)
            }
        }
    }

    /// How many keys are usable.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Never true: a set without a usable key is refused when parsed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The key and its algorithm, when it is a signing key of a supported kind.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (AlgorithmParameters::OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA))
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_signing_keys_it_can_use() {
        let set = KeySet::from_json(include_str!("../tests/fixtures/jwks.json")).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.find(Some("test-rsa"), Algorithm::RS256).is_some());
        assert!(set.find(Some("test-ec"), Algorithm::ES256).is_some());
        assert!(
            set.find(Some("test-rsa"), Algorithm::ES256).is_none(),
            "alg must match"
        );
        assert!(set.find(Some("nope"), Algorithm::RS256).is_none());
        assert!(
            set.find(None, Algorithm::RS256).is_some(),
            "the only RS256 key"
        );
    }

    #[test]
    fn refuses_a_set_without_usable_keys() {
        let symmetric = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#;
        assert!(matches!(
            KeySet::from_json(symmetric),
            Err(KeyError::NoUsableKey)
        ));
        assert!(matches!(KeySet::from_json("{}"), Err(KeyError::Parse(_))));
    }
}
