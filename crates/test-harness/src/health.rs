//! Readiness for gRPC servers in tests: a health poll with a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::eventually;

/// Polls `grpc.health.v1.Health/Check` for `service` ("" = the whole server) at `addr` every ~25 ms
/// until it is SERVING, retrying connection errors; after `deadline`, fails with the last
/// answer seen.
pub async fn wait_for_serving(addr: SocketAddr, service: &str, deadline: Duration) -> Result<()> {
    wait_for_health(addr, service, true, deadline).await
}

/// Like [`wait_for_serving`], for a server that speaks TLS only, with a certificate for
/// 127.0.0.1 signed by the CA `ca_pem` (a [`crate::TestCa`]).
pub async fn wait_for_serving_tls(
    addr: SocketAddr,
    ca_pem: &str,
    deadline: Duration,
) -> Result<()> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls)?;
    poll_health(endpoint, addr, "", true, deadline).await
}

/// Like [`wait_for_serving`], for NOT_SERVING (or, with `serving`, SERVING): a server that
/// cannot be reached does not count as NOT_SERVING.
pub async fn wait_for_health(
    addr: SocketAddr,
    service: &str,
    serving: bool,
    deadline: Duration,
) -> Result<()> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?;
    poll_health(endpoint, addr, service, serving, deadline).await
}

async fn poll_health(
    endpoint: Endpoint,
    addr: SocketAddr,
    service: &str,
    serving: bool,
    deadline: Duration,
) -> Result<()> {
    let want = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    // A server that accepts TCP but never speaks HTTP/2 must not eat the whole deadline in one try.
    let endpoint = endpoint
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_millis(500));
    let what = format!("{addr} service {service:?} {}", want.as_str_name());
    eventually(&what, deadline, || async {
        let status = check(&endpoint, service).await?;
        ensure!(status == want, "status {}", status.as_str_name());
        Ok(())
    })
    .await
}

/// One Check on a fresh connection, so a restarted server is picked up on the next poll.
async fn check(endpoint: &Endpoint, service: &str) -> Result<ServingStatus> {
    let channel = endpoint.connect().await.context("connecting")?;
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let response = HealthClient::new(channel).check(request).await?;
    Ok(response.into_inner().status())
}
