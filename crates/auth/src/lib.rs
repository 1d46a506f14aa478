//! Bearer tokens for every feedline service, the way identity providers issue them
//! (Cognito, Auth0, Keycloak): `authorization: Bearer <JWT>`, verified against the keys of a
//! JWKS document (RS256, ES256 or EdDSA) with issuer, audience, `exp` and `nbf` checks.
//!
//! - [`Verifier`] turns a token into a [`Caller`]: its subject and its scopes (admin, service).
//!   Verified tokens are cached until they expire, so a client that sends the same token on
//!   every call pays for the signature once. The keys are fixed ([`KeySet`]) or fetched from
//!   the identity provider's JWKS URL ([`JwksUrl`]) and kept fresh.
//! - [`access`] is the one table of who may call what; [`AuthLayer`] applies it from the
//!   request's metadata, before the body is read, and hands the [`Caller`] to the handler in
//!   the request's extensions. Which *user* a caller may act as is the handler's rule.
//! - [`DevKeys`] makes a signing key, its JWKS and tokens, for `cargo xtask up`, the tests and
//!   the load generator.

mod caller;
mod dev;
mod jwks_url;
mod keys;
mod layer;
mod outbound;
mod policy;
mod trusted;
mod verify;

pub use caller::{Caller, CallerError};
pub use dev::{DevKeys, TokenSpec};
pub use jwks_url::{FetchError, JwksUrl};
pub use keys::{KeyError, KeySet, KeySource};
pub use layer::{AuthLayer, AuthService};
pub use outbound::{BEARER_HEADER, Credential, bearer_value};
pub use policy::{Access, access};
pub use verify::{AuthConfig, TokenError, Verifier};

/// The scope that may act for any user, unless configured otherwise.
pub const DEFAULT_ADMIN_SCOPE: &str = "feedline:admin";
/// The scope of feedline's own services, unless configured otherwise.
pub const DEFAULT_SERVICE_SCOPE: &str = "feedline:service";
