//! Turning a bearer token into a [`Caller`]: signature, issuer, audience, `exp` and `nbf`,
//! then the scopes. Verified tokens are cached until they expire, or until the key set
//! changes: a key removed from the JWKS stops its tokens at the next refresh.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header, get_current_timestamp};
use serde::Deserialize;

use tokio_util::sync::CancellationToken;

use crate::caller::Caller;
use crate::jwks_url::FetchError;
use crate::keys::{KeyError, KeySource};
use crate::trusted::TrustedKeys;

/// The algorithms accepted: what Cognito, Auth0 and Keycloak sign with.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// Verified tokens remembered; a client reuses its token for many calls.
const CACHE_ENTRIES: usize = 16_384;

/// How tokens are verified.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Where the trusted signing keys come from (`FEEDLINE_AUTH_JWKS`).
    pub keys: KeySource,
    /// `iss` must be this, when set (`FEEDLINE_AUTH_ISSUER`).
    pub issuer: Option<String>,
    /// `aud` must include this, when set (`FEEDLINE_AUTH_AUDIENCE`).
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf` (`FEEDLINE_AUTH_LEEWAY_S`).
    pub leeway: Duration,
    /// The scope that may act for any user (`FEEDLINE_AUTH_ADMIN_SCOPE`).
    pub admin_scope: String,
    /// The scope of feedline's own services (`FEEDLINE_AUTH_SERVICE_SCOPE`).
    pub service_scope: String,
}

/// Why a token was refused; the message says which check failed and never holds the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token: send the metadata `authorization: Bearer <JWT>`")]
    Missing,
    #[error("the authorization metadata is not `Bearer <JWT>`")]
    NotBearer,
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted (RS256, ES256 or EdDSA)")]
    Algorithm(String),
    #[error("the token's signing key ({0}) is not in the trusted JWKS")]
    UnknownKey(String),
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's issuer is not the trusted issuer")]
    Issuer,
    #[error("the token's audience does not include this deployment's audience")]
    Audience,
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the token's claims are invalid: {0}")]
    Claims(String),
}

/// The claims feedline reads. `scope` is a space-separated string (RFC 8693, Cognito, Auth0,
/// Keycloak); `scp` a string or a list (Azure AD, Okta).
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    scope: Option<Scopes>,
    #[serde(default)]
    scp: Option<Scopes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Line(String),
    List(Vec<String>),
}

impl Scopes {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Scopes::Line(line) => line.split_ascii_whitespace().any(|s| s == wanted),
            Scopes::List(list) => list.iter().any(|s| s == wanted),
        }
    }
}

/// A verified token, remembered until it expires or the keys change.
#[derive(Clone)]
struct Verified {
    caller: Caller,
    exp: u64,
    nbf: Option<u64>,
    /// The key set's generation it was verified under.
    generation: u64,
}

/// Verifies bearer tokens against the configured keys.
pub struct Verifier {
    config: AuthConfig,
    validations: Vec<(Algorithm, Validation)>,
    cache: quick_cache::sync::Cache<String, Verified>,
    /// Shared with the refresh task of a JWKS URL, which holds it weakly: dropping the
    /// verifier, or cancelling the `shutdown` given to [`Verifier::start`], ends that task.
    keys: Arc<TrustedKeys>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier of tokens signed by the keys of `config.keys`. Fixed keys are ready at once.
    /// A JWKS URL is fetched now, retried with backoff for about its `startup` time, and a
    /// start without keys fails with [`KeyError::Fetch`]. Then a task fetches the keys every
    /// `refresh` until `shutdown` is cancelled (or the verifier dropped); a failed refresh
    /// keeps the last good keys.
    pub async fn start(config: AuthConfig, shutdown: CancellationToken) -> Result<Self, KeyError> {
        let keys = match &config.keys {
            KeySource::Fixed(keys) => Arc::new(TrustedKeys::fixed(keys.clone())),
            KeySource::Url(source) => {
                let keys = Arc::new(TrustedKeys::fetch_first(source.clone(), &shutdown).await?);
                TrustedKeys::keep_fresh(&keys, shutdown);
                keys
            }
        };
        let validations = ALGORITHMS
            .iter()
            .map(|&alg| (alg, validation(&config, alg)))
            .collect();
        Ok(Self {
            config,
            validations,
            cache: quick_cache::sync::Cache::new(CACHE_ENTRIES),
            keys,
        })
    }

    /// Whether fetching the keys now might let a token refused with `error` through: its
    /// key is unknown, the keys come from a URL, and no unknown key caused a fetch within
    /// `unknown_kid_interval`. Cheap; then call [`Verifier::fetch_keys_for_unknown_kid`].
    pub fn may_learn_key(&self, error: &TokenError) -> bool {
        matches!(error, TokenError::UnknownKey(_)) && self.keys.may_fetch_for_unknown_kid()
    }

    /// Fetches the keys because a token named an unknown one (rate-limited: tokens arriving
    /// together share one fetch). Verify again afterwards.
    pub async fn fetch_keys_for_unknown_kid(&self) {
        self.keys.fetch_for_unknown_kid().await;
    }

    /// Fetches the keys of a JWKS URL now, as the periodic refresh does: true when they
    /// changed. A failure keeps the keys in force. Fixed keys: `Ok(false)`.
    pub async fn refresh_keys(&self) -> Result<bool, FetchError> {
        self.keys.refresh().await
    }

    /// How many keys are in force.
    pub fn key_count(&self) -> usize {
        self.keys.current().keys.len()
    }

    /// The caller a request's `authorization` metadata names.
    pub fn authenticate(
        &self,
        authorization: Option<&http::HeaderValue>,
    ) -> Result<Caller, TokenError> {
        let value = authorization.ok_or(TokenError::Missing)?;
        let value = value.to_str().map_err(|_| TokenError::NotBearer)?;
        let (scheme, token) = value.split_once(' ').ok_or(TokenError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::NotBearer);
        }
        self.verify(token.trim())
    }

    /// The caller `token` stands for.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let now = get_current_timestamp();
        let keys = self.keys.current();
        if let Some(known) = self.cache.get(token)
            && known.generation == keys.generation
        {
            self.check_times(&known, now)?;
            return Ok(known.caller);
        }
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let Some((_, validation)) = self.validations.iter().find(|(alg, _)| *alg == header.alg)
        else {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        };
        let key = keys
            .keys
            .find(header.kid.as_deref(), header.alg)
            .ok_or_else(|| {
                TokenError::UnknownKey(header.kid.as_deref().map_or_else(
                    || format!("no kid, {:?}", header.alg),
                    |kid| format!("kid {kid:?}"),
                ))
            })?;
        let claims = decode::<Claims>(token, key, validation)
            .map_err(|e| token_error(e.into_kind()))?
            .claims;
        if claims.sub.is_empty() {
            return Err(TokenError::MissingClaim("sub".into()));
        }
        let has = |scope: &str| {
            claims.scope.as_ref().is_some_and(|s| s.contains(scope))
                || claims.scp.as_ref().is_some_and(|s| s.contains(scope))
        };
        let verified = Verified {
            caller: Caller {
                admin: has(&self.config.admin_scope),
                service: has(&self.config.service_scope),
                subject: claims.sub,
                authenticated: true,
            },
            exp: claims.exp,
            nbf: claims.nbf,
            generation: keys.generation,
        };
        let caller = verified.caller.clone();
        self.cache.insert(token.to_owned(), verified);
        Ok(caller)
    }

    /// `exp` and `nbf` of a remembered token, against the clock now.
    fn check_times(&self, known: &Verified, now: u64) -> Result<(), TokenError> {
        let leeway = self.config.leeway.as_secs();
        if known.exp.saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        if known
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

fn validation(config: &AuthConfig, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = config.leeway.as_secs();
    v.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    if let Some(issuer) = &config.issuer {
        v.set_issuer(&[issuer]);
        required.push("iss");
    }
    match &config.audience {
        Some(audience) => {
            v.set_audience(&[audience]);
            required.push("aud");
        }
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&required);
    v
}

fn token_error(kind: ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::Signature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::InvalidAudience => TokenError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            TokenError::Malformed
        }
        ErrorKind::Json(e) => TokenError::Claims(e.to_string()),
        ErrorKind::InvalidAlgorithm => TokenError::Algorithm("a mismatched algorithm".into()),
        other => TokenError::Claims(format!("{other:?}")),
    }
}
