//! The dev identity of `cargo xtask up`: an Ed25519 signing key of our own in `.feedline/auth/`
//! (kept across runs, so tokens stay valid), whose JWKS every service trusts; the tokens the
//! services, the banner and the load generator use; and `cargo xtask token`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use feedline_auth::{DevKeys, TokenSpec};

use crate::workspace;

/// `iss` of the tokens made here.
pub const ISSUER: &str = "https://feedline.local";
/// `aud` of the tokens made here.
pub const AUDIENCE: &str = "feedline";
/// How long the admin token `up` writes for the load generator stays valid.
const ADMIN_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// `.feedline/auth/`.
pub fn dir() -> PathBuf {
    workspace::root().join(".feedline").join("auth")
}

/// The key in [`dir`], made on first use.
pub fn keys() -> anyhow::Result<DevKeys> {
    let dir = dir();
    DevKeys::load_or_create(&dir, ISSUER, AUDIENCE)
        .with_context(|| format!("cannot keep the dev signing key in {}", dir.display()))
}

/// What the services of `up` read to verify tokens, and present to each other.
#[derive(Clone, Debug)]
pub struct ServiceAuth {
    /// The JWKS file.
    pub jwks: PathBuf,
    /// Mints each service's own token.
    pub keys: DevKeys,
}

impl ServiceAuth {
    /// The variables of `service`: verify tokens, and present a service token.
    pub fn env(&self, service: &str) -> Vec<(&'static str, String)> {
        vec![
            ("FEEDLINE_AUTH_JWKS", self.jwks.display().to_string()),
            ("FEEDLINE_AUTH_ISSUER", ISSUER.to_owned()),
            ("FEEDLINE_AUTH_AUDIENCE", AUDIENCE.to_owned()),
            ("FEEDLINE_SERVICE_TOKEN", self.keys.service_token(service)),
        ]
    }
}

/// The key and JWKS for `up`, and an admin token in `.feedline/auth/admin.token` (owner-only),
/// which the load generator and `logs-app create` pick up.
pub fn prepare() -> anyhow::Result<ServiceAuth> {
    let keys = keys()?;
    let mut spec = TokenSpec::new("xtask-admin", feedline_auth::DEFAULT_ADMIN_SCOPE);
    spec.lifetime = ADMIN_TOKEN_LIFETIME;
    let path = admin_token_path();
    std::fs::write(&path, keys.token(&spec))
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(ServiceAuth {
        jwks: DevKeys::jwks_path(&dir()),
        keys,
    })
}

/// Where [`prepare`] writes the admin token.
pub fn admin_token_path() -> PathBuf {
    dir().join("admin.token")
}

/// The admin token of the last `up`, if any.
pub fn stored_admin_token() -> Option<String> {
    std::fs::read_to_string(admin_token_path())
        .ok()
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// `cargo xtask token SUBJECT [--admin] [--service]`: prints a token for `subject`, valid for
/// a day, signed with the key of `up`.
pub fn run_token(subject: &str, admin: bool, service: bool) -> anyhow::Result<ExitCode> {
    let keys = keys()?;
    let scope = [
        (admin, feedline_auth::DEFAULT_ADMIN_SCOPE),
        (service, feedline_auth::DEFAULT_SERVICE_SCOPE),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, scope)| *scope)
    .collect::<Vec<_>>()
    .join(" ");
    println!("{}", keys.token(&TokenSpec::new(subject, &scope)));
    Ok(ExitCode::SUCCESS)
}
