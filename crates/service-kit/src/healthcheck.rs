//! The `healthcheck` subcommand's client: one `grpc.health.v1.Health/Check` of the whole server
//! on the local listen port, so a container health check needs no tool besides the binary.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::errors::with_causes;
use crate::tls::TlsConfig;

/// The whole check, connect included. Well under the 5 s that Docker and ECS give a health
/// check command by default, so the answer is ours and not the orchestrator's kill.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Why the server is not healthy; printed as the one line the check writes on stderr.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// Nothing accepts connections there (not started, crashed, stopped).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Where the check dialled.
        addr: SocketAddr,
        /// The transport error with its causes, e.g. `Connection refused`.
        reason: String,
    },
    /// The server answered the call with an error status.
    #[error("{addr}: Check failed: {code:?}: {message}")]
    Call {
        /// Where the check dialled.
        addr: SocketAddr,
        /// The gRPC status code.
        code: tonic::Code,
        /// Its message.
        message: String,
    },
    /// The server answered with a status other than SERVING (NOT_SERVING while its
    /// dependencies do not answer or once shutdown has begun).
    #[error("{0}")]
    Status(&'static str),
    /// No answer within [`TIMEOUT`]: a server that accepts but hangs is not healthy.
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout {
        /// Where the check dialled.
        addr: SocketAddr,
        /// How long it waited.
        timeout: Duration,
    },
}

/// Where to reach a server listening on `listen`: the address itself when it is specific, the
/// loopback of the same family when it is unspecified (`0.0.0.0` or `[::]`).
pub fn local_target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Asks the server at `addr` for its overall health (service `""`) within `timeout`, connect
/// included; `Ok` only for SERVING. A TLS server is dialled with TLS and must present a
/// certificate for `FEEDLINE_TLS_SERVER_NAME` that the trusted roots verify.
pub async fn check(
    addr: SocketAddr,
    tls: &TlsConfig,
    timeout: Duration,
) -> Result<(), HealthcheckError> {
    match tokio::time::timeout(timeout, check_once(addr, tls, timeout)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(HealthcheckError::Timeout { addr, timeout }),
    }
}

async fn check_once(
    addr: SocketAddr,
    tls: &TlsConfig,
    timeout: Duration,
) -> Result<(), HealthcheckError> {
    let connect_error = |error: &dyn std::error::Error| HealthcheckError::Connect {
        addr,
        reason: with_causes(error),
    };
    let endpoint = if tls.serves_tls() {
        Endpoint::from_shared(format!("https://{addr}"))
            .and_then(|e| e.tls_config(tls.client().domain_name(tls.server_name())))
    } else {
        Endpoint::from_shared(format!("http://{addr}"))
    };
    let channel = endpoint
        .map_err(|e| connect_error(&e))?
        .connect_timeout(timeout)
        .connect()
        .await
        .map_err(|e| connect_error(&e))?;
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = HealthClient::new(channel)
        .check(request)
        .await
        .map_err(|status| HealthcheckError::Call {
            addr,
            code: status.code(),
            message: status.message().to_owned(),
        })?;
    match response.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        other => Err(HealthcheckError::Status(other.as_str_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_reached_on_loopback_of_its_family() {
        let target = |s: &str| local_target(s.parse().unwrap()).to_string();
        assert_eq!(target("0.0.0.0:50051"), "127.0.0.1:50051");
        assert_eq!(target("[::]:50051"), "[::1]:50051");
        assert_eq!(target("10.0.0.7:50052"), "10.0.0.7:50052");
        assert_eq!(target("[fe80::1]:50053"), "[fe80::1]:50053");
    }
}
