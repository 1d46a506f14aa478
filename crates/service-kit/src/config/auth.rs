//! The auth settings of a server (how callers' tokens are verified) and of a client (the
//! token this service presents to the others).

use std::time::Duration;

use super::{ConfigError, Env, parse_or, ranged_or};

/// Reads the token verification settings: `FEEDLINE_AUTH_JWKS` (the identity provider's
/// signing keys: a JWKS file, the document itself as a secret injected into the environment,
/// or an `https://` URL publishing it), `FEEDLINE_AUTH_JWKS_REFRESH_S` (how often a URL is
/// fetched again, default 300), `FEEDLINE_AUTH_ISSUER` and `FEEDLINE_AUTH_AUDIENCE` (checked
/// when set), `FEEDLINE_AUTH_LEEWAY_S` (clock skew on `exp` and `nbf`, default 30),
/// `FEEDLINE_AUTH_ADMIN_SCOPE` and `FEEDLINE_AUTH_SERVICE_SCOPE`. A file or document is read
/// here, so a missing or unusable one fails the start before any port is bound; a URL is only
/// checked here and fetched when the server starts (`serve`).
pub fn auth_from_env(env: &Env) -> Result<Option<feedline_auth::AuthConfig>, ConfigError> {
    let optional = |name: &str| -> Result<Option<String>, ConfigError> {
        Ok(Some(parse_or(env, name, String::new())?).filter(|v| !v.is_empty()))
    };
    let issuer = optional("FEEDLINE_AUTH_ISSUER")?;
    let audience = optional("FEEDLINE_AUTH_AUDIENCE")?;
    let leeway = ranged_or(env, "FEEDLINE_AUTH_LEEWAY_S", 30u64, 0..=300)?;
    let admin_scope = parse_or(
        env,
        "FEEDLINE_AUTH_ADMIN_SCOPE",
        feedline_auth::DEFAULT_ADMIN_SCOPE.to_owned(),
    )?;
    let service_scope = parse_or(
        env,
        "FEEDLINE_AUTH_SERVICE_SCOPE",
        feedline_auth::DEFAULT_SERVICE_SCOPE.to_owned(),
    )?;
    let refresh = ranged_or(env, "FEEDLINE_AUTH_JWKS_REFRESH_S", 300u64, 10..=86_400)?;
    let Some(jwks) = optional("FEEDLINE_AUTH_JWKS")? else {
        return Ok(None);
    };
    let mut keys = feedline_auth::KeySource::from_setting(&jwks).map_err(|e| ConfigError {
        variable: "FEEDLINE_AUTH_JWKS".to_owned(),
        value: if jwks.len() > 80 {
            format!("{}...", &jwks[..jwks.floor_char_boundary(80)])
        } else {
            jwks.clone()
        },
        reason: e.to_string(),
    })?;
    if let feedline_auth::KeySource::Url(source) = &mut keys {
        source.refresh = Duration::from_secs(refresh);
    }
    Ok(Some(feedline_auth::AuthConfig {
        keys,
        issuer,
        audience,
        leeway: Duration::from_secs(leeway),
        admin_scope,
        service_scope,
    }))
}

/// Reads `FEEDLINE_SERVICE_TOKEN`, the token this service presents to the others, or
/// `FEEDLINE_SERVICE_TOKEN_FILE`, a file holding it (a mounted secret); not both.
pub fn credential_from_env(env: &Env) -> Result<feedline_auth::Credential, ConfigError> {
    let inline: String = parse_or(env, "FEEDLINE_SERVICE_TOKEN", String::new())?;
    let file: String = parse_or(env, "FEEDLINE_SERVICE_TOKEN_FILE", String::new())?;
    let (variable, token) = match (inline.is_empty(), file.is_empty()) {
        (true, true) => return Ok(feedline_auth::Credential::none()),
        (false, true) => ("FEEDLINE_SERVICE_TOKEN", inline),
        (true, false) => {
            let token = std::fs::read_to_string(&file).map_err(|e| ConfigError {
                variable: "FEEDLINE_SERVICE_TOKEN_FILE".to_owned(),
                value: file.clone(),
                reason: format!("cannot read it: {e}"),
            })?;
            ("FEEDLINE_SERVICE_TOKEN_FILE", token.trim().to_owned())
        }
        (false, false) => {
            return Err(ConfigError {
                variable: "FEEDLINE_SERVICE_TOKEN_FILE".to_owned(),
                value: file,
                reason: "set FEEDLINE_SERVICE_TOKEN or FEEDLINE_SERVICE_TOKEN_FILE, not both"
                    .into(),
            });
        }
    };
    feedline_auth::Credential::bearer(&token).map_err(|reason| ConfigError {
        variable: variable.to_owned(),
        // Never the token itself.
        value: "<hidden>".to_owned(),
        reason,
    })
}
