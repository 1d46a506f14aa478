//! A signing key of our own, its JWKS and tokens: for `cargo xtask up` and `xtask token`, the
//! tests and the load generator. Production keys belong to the identity provider.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde::Serialize;

use crate::keys::KeySet;
use crate::verify::AuthConfig;

/// PKCS #8 v1 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const SEED_FILE: &str = "signing-key.pem";
const JWKS_FILE: &str = "jwks.json";

/// An Ed25519 signing key with its issuer and audience.
#[derive(Clone)]
pub struct DevKeys {
    seed: [u8; 32],
    kid: String,
    encoding: EncodingKey,
    /// `iss` of the tokens made here.
    pub issuer: String,
    /// `aud` of the tokens made here.
    pub audience: String,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKeys")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// What a token made by [`DevKeys::token`] says.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    /// `sub`.
    pub subject: String,
    /// `scope`, space-separated (may be empty).
    pub scope: String,
    /// `exp` minus now (negative durations are not needed: use `expired_for`).
    pub lifetime: Duration,
    /// When set, the token expired this long ago.
    pub expired_for: Option<Duration>,
    /// When set, the token becomes valid only this long from now (`nbf`).
    pub not_before_in: Option<Duration>,
    /// Overrides `iss`.
    pub issuer: Option<String>,
    /// Overrides `aud`.
    pub audience: Option<String>,
}

impl TokenSpec {
    /// A token for `subject` with `scope`, valid for a day.
    pub fn new(subject: &str, scope: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            scope: scope.to_owned(),
            lifetime: Duration::from_secs(24 * 3600),
            expired_for: None,
            not_before_in: None,
            issuer: None,
            audience: None,
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
}

impl DevKeys {
    /// A fresh random key.
    pub fn generate(issuer: &str, audience: &str) -> Self {
        Self::from_seed(rand::random(), issuer, audience)
    }

    /// The key of this 32-byte seed.
    pub fn from_seed(seed: [u8; 32], issuer: &str, audience: &str) -> Self {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        // The key id is a digest of the public key, so a new key never reuses an old id.
        let kid = format!("dev-{}", &URL_SAFE_NO_PAD.encode(public)[..12]);
        Self {
            seed,
            kid,
            encoding: EncodingKey::from_ed_der(&der),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// The key saved in `dir` by [`DevKeys::save`], or a new one saved there: tokens made
    /// by one `xtask up` stay valid for the next.
    pub fn load_or_create(dir: &Path, issuer: &str, audience: &str) -> std::io::Result<Self> {
        let path = dir.join(SEED_FILE);
        if let Ok(pem) = std::fs::read_to_string(&path)
            && let Some(keys) = Self::from_pem(&pem, issuer, audience)
        {
            keys.save(dir)?;
            return Ok(keys);
        }
        let keys = Self::generate(issuer, audience);
        keys.save(dir)?;
        Ok(keys)
    }

    /// Writes the private key (PKCS #8 PEM, readable by the owner only) and the JWKS.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let key_path = dir.join(SEED_FILE);
        std::fs::write(&key_path, self.pem())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::write(dir.join(JWKS_FILE), self.jwks_json())
    }

    /// Where [`DevKeys::save`] writes the JWKS in `dir`.
    pub fn jwks_path(dir: &Path) -> std::path::PathBuf {
        dir.join(JWKS_FILE)
    }

    fn pem(&self) -> String {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&self.seed);
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn from_pem(pem: &str, issuer: &str, audience: &str) -> Option<Self> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body.trim()).ok()?;
        let seed = der.strip_prefix(&ED25519_PKCS8_PREFIX[..])?;
        Some(Self::from_seed(seed.try_into().ok()?, issuer, audience))
    }

    /// The public key as a JWKS document.
    pub fn jwks_json(&self) -> String {
        let public = ed25519_dalek::SigningKey::from_bytes(&self.seed)
            .verifying_key()
            .to_bytes();
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
        .to_string()
    }

    /// A verifier configuration that trusts this key, with feedline's default scopes.
    pub fn config(&self) -> AuthConfig {
        AuthConfig {
            keys: KeySet::from_json(&self.jwks_json())
                .unwrap_or_else(|_| unreachable_keys())
                .into(),
            issuer: Some(self.issuer.clone()),
            audience: Some(self.audience.clone()),
            leeway: Duration::from_secs(30),
            admin_scope: crate::DEFAULT_ADMIN_SCOPE.to_owned(),
            service_scope: crate::DEFAULT_SERVICE_SCOPE.to_owned(),
        }
    }

    /// A signed token as `spec` says.
    pub fn token(&self, spec: &TokenSpec) -> String {
        let now = get_current_timestamp();
        let exp = match spec.expired_for {
            Some(ago) => now.saturating_sub(ago.as_secs().max(1)),
            None => now + spec.lifetime.as_secs(),
        };
        let nbf = spec.not_before_in.map_or(now, |d| now + d.as_secs());
        let claims = Claims {
            iss: spec.issuer.as_deref().unwrap_or(&self.issuer),
            aud: spec.audience.as_deref().unwrap_or(&self.audience),
            sub: &spec.subject,
            iat: now,
            nbf,
            exp,
            scope: &spec.scope,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        // Signing with a well-formed Ed25519 key cannot fail.
        encode(&header, &claims, &self.encoding).unwrap_or_default()
    }

    /// A user's token for `subject`, valid for a day.
    pub fn user_token(&self, subject: &str) -> String {
        self.token(&TokenSpec::new(subject, ""))
    }

    /// An admin's token, valid for a day.
    pub fn admin_token(&self, subject: &str) -> String {
        self.token(&TokenSpec::new(subject, crate::DEFAULT_ADMIN_SCOPE))
    }

    /// A service's token, valid for a year (the services of `xtask up` and the tests).
    pub fn service_token(&self, subject: &str) -> String {
        let mut spec = TokenSpec::new(subject, crate::DEFAULT_SERVICE_SCOPE);
        spec.lifetime = Duration::from_secs(365 * 24 * 3600);
        self.token(&spec)
    }
}

/// The JWKS made by `jwks_json` always parses; this is never reached.
fn unreachable_keys() -> KeySet {
    panic!("a generated Ed25519 JWKS did not parse")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TokenError, Verifier};

    #[tokio::test]
    async fn its_tokens_verify_against_its_jwks_and_survive_a_reload() {
        let dir = std::env::temp_dir().join(format!("feedline-auth-{}", rand::random::<u64>()));
        let keys = DevKeys::load_or_create(&dir, "iss", "aud").unwrap();
        let again = DevKeys::load_or_create(&dir, "iss", "aud").unwrap();
        let verifier = Verifier::start(again.config(), Default::default())
            .await
            .unwrap();
        let caller = verifier.verify(&keys.admin_token("root")).unwrap();
        assert_eq!(caller.subject, "root");
        assert!(caller.admin && !caller.service);
        let other = DevKeys::generate("iss", "aud");
        assert_eq!(
            verifier.verify(&other.user_token("x")),
            Err(TokenError::UnknownKey(format!("kid {:?}", other.kid)))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
