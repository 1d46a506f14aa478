//! Typed configuration read from an environment map, validated before any port is bound.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The environment as a map. `main` passes the process environment ([`process_env`]); tests
/// pass their own map, so no test ever mutates the process environment.
pub type Env = HashMap<String, String>;

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
    /// `FEEDLINE_SHUTDOWN_GRACE_MS`: how long in-flight calls may take to finish after SIGTERM
    /// before connections are dropped (default 10000).
    pub shutdown_grace: Duration,
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
        Ok(Self {
            listen_addr,
            request_timeout: millis_or(
                env,
                "FEEDLINE_REQUEST_TIMEOUT_MS",
                Duration::from_secs(10),
                1..=3_600_000,
            )?,
            max_concurrent_requests,
            shutdown_grace: millis_or(
                env,
                "FEEDLINE_SHUTDOWN_GRACE_MS",
                Duration::from_secs(10),
                0..=600_000,
            )?,
        })
    }
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
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = ServerConfig::from_env(&env(&[("FEEDLINE_LISTEN_ADDR", "nope")]), 1).unwrap_err();
        assert_eq!(err.variable, "FEEDLINE_LISTEN_ADDR");
        let err = ServerConfig::from_env(&env(&[("FEEDLINE_MAX_CONCURRENT_REQUESTS", "0")]), 1)
            .unwrap_err();
        assert!(err.to_string().contains("between 1 and"), "{err}");
    }
}
