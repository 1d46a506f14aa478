//! Typed configuration read from an environment map, validated before any port is bound.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The environment as a map that remembers every name looked up in it. `main` passes the
/// process environment ([`process_env`]); tests pass their own map, so no test ever mutates the
/// process environment. After a service's `Config::from_env`, [`Env::read_names`] says which
/// variables it reads, so a test can prove that each variable a deployment file sets is one
/// the service actually reads (a misspelt name would otherwise be ignored silently).
#[derive(Default)]
pub struct Env {
    vars: HashMap<String, String>,
    /// Every name passed to [`Env::get`], set or not. A `Mutex` rather than a `RefCell` so that
    /// `Env` stays `Sync`: config readers take `&Env` and may be called from any thread.
    read: Mutex<BTreeSet<String>>,
}

impl Env {
    /// An empty environment (every setting takes its default).
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, recording that it was read.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.read_set().insert(name.to_owned());
        self.vars.get(name)
    }

    /// Sets `name` to `value`, returning the previous value.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        self.vars.insert(name, value)
    }

    /// Every variable and its value, in no particular order; records nothing.
    pub fn iter(&self) -> std::collections::hash_map::Iter<'_, String, String> {
        self.vars.iter()
    }

    /// The whole map, without recording any read: for readers that cannot depend on this crate
    /// (telemetry), whose names are listed in `feedline_telemetry::ENV_VARS` instead.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// The names looked up with [`Env::get`] so far, whether set or not.
    pub fn read_names(&self) -> BTreeSet<String> {
        self.read_set().clone()
    }

    /// The record of reads; a panic while it was held cannot leave it inconsistent (inserts
    /// only), so a poisoned lock is used as it is.
    fn read_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for Env {
    fn clone(&self) -> Self {
        Self {
            vars: self.vars.clone(),
            read: Mutex::new(self.read_names()),
        }
    }
}

/// Names only: values may hold secrets (a database password, the admin token).
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeSet<&String> = self.vars.keys().collect();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl From<HashMap<String, String>> for Env {
    fn from(vars: HashMap<String, String>) -> Self {
        Self {
            vars,
            read: Mutex::default(),
        }
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        HashMap::from_iter(pairs).into()
    }
}

impl Extend<(String, String)> for Env {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        self.vars.extend(pairs);
    }
}

/// So that `Command::envs(&env)` starts a child process with exactly this environment.
impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::hash_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.vars.iter()
    }
}

/// The process environment (variables that are not valid Unicode are skipped).
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: String,
    /// Its value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads `name` from `env`, parsing it with `FromStr`; unset or empty gives `default`.
pub fn parse_or<T>(env: &Env, name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError {
            variable: name.to_owned(),
            value: raw.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Reads a duration given in milliseconds, which must lie in `range`.
pub fn millis_or(
    env: &Env,
    name: &str,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let millis = parse_or(env, name, default.as_millis() as u64)?;
    check_range(name, millis, range)?;
    Ok(Duration::from_millis(millis))
}

/// Reads a URL that must start with one of `schemes` (e.g. `"http://"`); unset or empty
/// gives `default`.
pub fn url_or(
    env: &Env,
    name: &str,
    default: &str,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    let url: String = parse_or(env, name, default.to_owned())?;
    if schemes.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url)
    } else {
        Err(ConfigError {
            variable: name.to_owned(),
            value: url,
            reason: format!("must start with {}", schemes.join(" or ")),
        })
    }
}

/// Fails unless `value` lies in `range`.
pub fn check_range<T: PartialOrd + Display>(
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError {
            variable: name.to_owned(),
            value: value.to_string(),
            reason: format!("must be between {} and {}", range.start(), range.end()),
        })
    }
}

/// Settings of the gRPC server itself, common to every service.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `FEEDLINE_LISTEN_ADDR`: where to listen (default `0.0.0.0:<the service's port>`).
    pub listen_addr: SocketAddr,
    /// `FEEDLINE_REQUEST_TIMEOUT_MS`: a unary call still running after this answers
    /// DEADLINE_EXCEEDED (default 10000; streams are bounded by their own logic).
    pub request_timeout: Duration,
    /// `FEEDLINE_MAX_CONCURRENT_REQUESTS`: calls in flight beyond this are shed at once with
    /// RESOURCE_EXHAUSTED rather than queued (default 1024; health and reflection are exempt).
    pub max_concurrent_requests: usize,
    /// `FEEDLINE_MAX_OPEN_STREAMS`: streaming calls open at once, for their whole life; a new
    /// stream beyond this gets RESOURCE_EXHAUSTED with `RetryInfo` at once (default 256).
    pub max_open_streams: usize,
    /// `FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS`: HTTP/2 streams (calls) one connection may have
    /// open at once, advertised to the client in SETTINGS (default 256).
    pub http2_max_concurrent_streams: u32,
    /// `FEEDLINE_MAX_CONNECTIONS`: connections open at once; beyond this the server stops
    /// accepting until one closes, and new ones wait in the listen backlog (default 4096).
    pub max_connections: usize,
    /// `FEEDLINE_SHUTDOWN_GRACE_MS`: how long in-flight calls may take to finish after SIGTERM
    /// before connections are dropped (default 10000).
    pub shutdown_grace: Duration,
    /// Bearer-token authentication (`FEEDLINE_AUTH_*`, see [`auth_from_env`]); `None` when
    /// `FEEDLINE_AUTH_JWKS` is unset: every caller is trusted.
    pub auth: Option<feedline_auth::AuthConfig>,
    /// `FEEDLINE_SERVICE_TOKEN`: the bearer token (with the service scope) this service
    /// presents on its calls to the others; none when unset.
    pub credential: feedline_auth::Credential,
    /// TLS on this server and on its calls to the other services and Redis
    /// (`FEEDLINE_TLS_*`); plaintext when no certificate is set.
    pub tls: crate::tls::TlsConfig,
}

impl ServerConfig {
    /// Reads the server settings; `default_port` is the service's well-known port.
    pub fn from_env(env: &Env, default_port: u16) -> Result<Self, ConfigError> {
        let listen_addr = parse_or(
            env,
            "FEEDLINE_LISTEN_ADDR",
            SocketAddr::from(([0, 0, 0, 0], default_port)),
        )?;
        let max_concurrent_requests = parse_or(env, "FEEDLINE_MAX_CONCURRENT_REQUESTS", 1024)?;
        check_range(
            "FEEDLINE_MAX_CONCURRENT_REQUESTS",
            max_concurrent_requests,
            1..=1_000_000,
        )?;
        let max_open_streams = parse_or(env, "FEEDLINE_MAX_OPEN_STREAMS", 256)?;
        check_range("FEEDLINE_MAX_OPEN_STREAMS", max_open_streams, 1..=100_000)?;
        let http2_max_concurrent_streams =
            parse_or(env, "FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS", 256)?;
        check_range(
            "FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS",
            http2_max_concurrent_streams,
            1..=100_000,
        )?;
        let max_connections = parse_or(env, "FEEDLINE_MAX_CONNECTIONS", 4096)?;
        check_range("FEEDLINE_MAX_CONNECTIONS", max_connections, 1..=1_000_000)?;
        Ok(Self {
            listen_addr,
            request_timeout: millis_or(
                env,
                "FEEDLINE_REQUEST_TIMEOUT_MS",
                Duration::from_secs(10),
                1..=3_600_000,
            )?,
            max_concurrent_requests,
            max_open_streams,
            http2_max_concurrent_streams,
            max_connections,
            shutdown_grace: millis_or(
                env,
                "FEEDLINE_SHUTDOWN_GRACE_MS",
                Duration::from_secs(10),
                0..=600_000,
            )?,
            auth: auth_from_env(env)?,
            credential: credential_from_env(env)?,
            tls: crate::tls::TlsConfig::from_env(env)?,
        })
    }
}

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
    let leeway = parse_or(env, "FEEDLINE_AUTH_LEEWAY_S", 30u64)?;
    check_range("FEEDLINE_AUTH_LEEWAY_S", leeway, 0..=300)?;
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
    let refresh = parse_or(env, "FEEDLINE_AUTH_JWKS_REFRESH_S", 300u64)?;
    check_range("FEEDLINE_AUTH_JWKS_REFRESH_S", refresh, 10..=86_400)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_use_the_service_port() {
        let c = ServerConfig::from_env(&env(&[]), 50051).unwrap();
        assert_eq!(c.listen_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.max_concurrent_requests, 1024);
        assert_eq!(c.max_open_streams, 256);
        assert_eq!(c.http2_max_concurrent_streams, 256);
        assert_eq!(c.max_connections, 4096);
    }

    #[test]
    fn reads_are_recorded_whether_set_or_not() {
        let c = env(&[("FEEDLINE_LISTEN_ADDR", "127.0.0.1:1"), ("UNRELATED", "x")]);
        ServerConfig::from_env(&c, 1).unwrap();
        let read = c.read_names();
        assert!(read.contains("FEEDLINE_LISTEN_ADDR"));
        assert!(
            read.contains("FEEDLINE_SHUTDOWN_GRACE_MS"),
            "unset names count too"
        );
        assert!(!read.contains("UNRELATED"));
        // Neither the raw map nor iteration counts as a read.
        assert_eq!(c.vars().len(), 2);
        assert_eq!(c.iter().count(), 2);
        assert_eq!(c.read_names(), read);
        assert_eq!(c.clone().read_names(), read);
    }

    #[test]
    fn debug_shows_names_not_values() {
        let c = env(&[("FEEDLINE_ADMIN_TOKEN", "s3cret")]);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("FEEDLINE_ADMIN_TOKEN") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = ServerConfig::from_env(&env(&[("FEEDLINE_LISTEN_ADDR", "nope")]), 1).unwrap_err();
        assert_eq!(err.variable, "FEEDLINE_LISTEN_ADDR");
        let err = ServerConfig::from_env(&env(&[("FEEDLINE_MAX_CONCURRENT_REQUESTS", "0")]), 1)
            .unwrap_err();
        assert!(err.to_string().contains("between 1 and"), "{err}");
        for name in [
            "FEEDLINE_MAX_OPEN_STREAMS",
            "FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS",
            "FEEDLINE_MAX_CONNECTIONS",
        ] {
            let err = ServerConfig::from_env(&env(&[(name, "0")]), 1).unwrap_err();
            assert_eq!(err.variable, name);
        }
    }

    #[test]
    fn auth_is_read_from_a_file_or_the_document_itself() {
        let off = ServerConfig::from_env(&env(&[]), 1).unwrap();
        assert!(off.auth.is_none() && !off.credential.is_set());

        let keys = feedline_auth::DevKeys::generate("iss", "aud");
        let jwks = keys.jwks_json();
        let inline = env(&[
            ("FEEDLINE_AUTH_JWKS", jwks.as_str()),
            ("FEEDLINE_AUTH_ISSUER", "iss"),
            ("FEEDLINE_SERVICE_TOKEN", "abc.def.ghi"),
        ]);
        let on = ServerConfig::from_env(&inline, 1).unwrap();
        let auth = on.auth.unwrap();
        assert!(
            matches!(&auth.keys, feedline_auth::KeySource::Fixed(k) if k.len() == 1),
            "{:?}",
            auth.keys
        );
        assert_eq!(auth.issuer.as_deref(), Some("iss"));
        assert_eq!(auth.audience, None);
        assert_eq!(auth.admin_scope, "feedline:admin");
        assert!(on.credential.is_set());

        let dir = std::env::temp_dir().join(format!("service-kit-jwks-{}", std::process::id()));
        keys.save(&dir).unwrap();
        let path = feedline_auth::DevKeys::jwks_path(&dir)
            .display()
            .to_string();
        let file = ServerConfig::from_env(&env(&[("FEEDLINE_AUTH_JWKS", path.as_str())]), 1);
        assert!(file.unwrap().auth.is_some());
        std::fs::remove_dir_all(&dir).unwrap();

        let missing = env(&[("FEEDLINE_AUTH_JWKS", "/nonexistent/jwks.json")]);
        let err = ServerConfig::from_env(&missing, 1).unwrap_err();
        assert_eq!(err.variable, "FEEDLINE_AUTH_JWKS");
        let token_file = dir.with_extension("token");
        std::fs::write(&token_file, "abc.def.ghi\n").unwrap();
        let path = token_file.display().to_string();
        let from_file = env(&[("FEEDLINE_SERVICE_TOKEN_FILE", path.as_str())]);
        assert!(
            ServerConfig::from_env(&from_file, 1)
                .unwrap()
                .credential
                .is_set()
        );
        let both = env(&[
            ("FEEDLINE_SERVICE_TOKEN_FILE", path.as_str()),
            ("FEEDLINE_SERVICE_TOKEN", "x"),
        ]);
        assert!(ServerConfig::from_env(&both, 1).is_err());
        std::fs::remove_file(&token_file).unwrap();
        let leeway = env(&[("FEEDLINE_AUTH_LEEWAY_S", "9999")]);
        assert_eq!(
            ServerConfig::from_env(&leeway, 1).unwrap_err().variable,
            "FEEDLINE_AUTH_LEEWAY_S"
        );
    }

    #[test]
    fn auth_keys_may_come_from_a_url() {
        let cognito =
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/.well-known/jwks.json";
        let url = env(&[
            ("FEEDLINE_AUTH_JWKS", cognito),
            ("FEEDLINE_AUTH_JWKS_REFRESH_S", "60"),
        ]);
        let auth = auth_from_env(&url).unwrap().unwrap();
        let feedline_auth::KeySource::Url(source) = &auth.keys else {
            panic!("not a URL source: {:?}", auth.keys);
        };
        assert_eq!(source.url.as_str(), cognito);
        assert_eq!(source.refresh, Duration::from_secs(60));
        let local = env(&[("FEEDLINE_AUTH_JWKS", "http://127.0.0.1:8080/jwks")]);
        let auth = auth_from_env(&local).unwrap().unwrap();
        assert!(
            matches!(&auth.keys, feedline_auth::KeySource::Url(s) if s.refresh == Duration::from_secs(300))
        );

        let bad_url = env(&[("FEEDLINE_AUTH_JWKS", "https://")]);
        assert_eq!(
            auth_from_env(&bad_url).unwrap_err().variable,
            "FEEDLINE_AUTH_JWKS"
        );
        let too_often = env(&[
            ("FEEDLINE_AUTH_JWKS", cognito),
            ("FEEDLINE_AUTH_JWKS_REFRESH_S", "1"),
        ]);
        assert_eq!(
            auth_from_env(&too_often).unwrap_err().variable,
            "FEEDLINE_AUTH_JWKS_REFRESH_S"
        );
    }
}
