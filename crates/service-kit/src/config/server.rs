//! Settings of the gRPC server itself, common to every service.

use std::net::SocketAddr;
use std::time::Duration;

use super::{ConfigError, Env, auth_from_env, credential_from_env, millis_or, parse_or, ranged_or};

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
        let max_concurrent_requests =
            ranged_or(env, "FEEDLINE_MAX_CONCURRENT_REQUESTS", 1024, 1..=1_000_000)?;
        let max_open_streams = ranged_or(env, "FEEDLINE_MAX_OPEN_STREAMS", 256, 1..=100_000)?;
        let http2_max_concurrent_streams = ranged_or(
            env,
            "FEEDLINE_HTTP2_MAX_CONCURRENT_STREAMS",
            256,
            1..=100_000,
        )?;
        let max_connections = ranged_or(env, "FEEDLINE_MAX_CONNECTIONS", 4096, 1..=1_000_000)?;
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
