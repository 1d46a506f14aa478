//! Serves a service's routes with health, reflection and the inbound layers, and runs the
//! shutdown sequence under the grace deadline.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;

use crate::config::ServerConfig;
use crate::health::Health;
use crate::layers::{DeadlineLayer, ShedLayer, StreamLimitLayer};

/// How often an idle connection is pinged.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The most header bytes (HPACK-decoded) one call may send: metadata, a bearer token and trace
/// context fit in a few KiB; a larger header block is refused before any handler runs.
const HTTP2_MAX_HEADER_LIST_BYTES: u32 = 16 << 10;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The reflection service could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed (accept loop, HTTP/2).
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The token verification keys could not be had at start (`FEEDLINE_AUTH_JWKS` URL).
    #[error("auth keys: {0}")]
    Keys(#[from] feedline_auth::KeyError),
}

/// Serves `routes` plus health and reflection (v1 and v1alpha, with the health descriptors) on
/// `listener` until `shutdown` is cancelled, then: health NOT_SERVING, stop accepting, let
/// in-flight calls finish for at most `config.shutdown_grace`, and return. The caller closes its
/// pools and flushes telemetry after this returns.
pub async fn serve(
    config: &ServerConfig,
    listener: TcpListener,
    mut routes: RoutesBuilder,
    health: Health,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(feedline_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // Older clients (grpcui, Postman, older grpcurl) only speak v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(feedline_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes
        .add_service(health.server())
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let verifier = match config.auth.clone() {
        Some(mut auth) => {
            // An identity provider inside the deployment may use its private CA.
            if let feedline_auth::KeySource::Url(source) = &mut auth.keys {
                source.extra_roots = config
                    .tls
                    .extra_roots()
                    .into_iter()
                    .map(|c| c.to_vec())
                    .collect();
            }
            tracing::info!(keys = %auth.keys, issuer = ?auth.issuer, audience = ?auth.audience, "bearer tokens required");
            // A JWKS URL is fetched here (retried for a bounded time); no keys, no serving.
            let verifier = feedline_auth::Verifier::start(auth, shutdown.clone()).await?;
            Some(std::sync::Arc::new(verifier))
        }
        None => None,
    };
    if verifier.is_none() {
        tracing::warn!(
            "authentication is off (FEEDLINE_AUTH_JWKS is not set): every caller is trusted"
        );
    }
    let layers = tower::ServiceBuilder::new()
        .layer(feedline_telemetry::GrpcTraceLayer)
        .layer(feedline_telemetry::RpcMetricsLayer::new())
        .layer(feedline_auth::AuthLayer::new(verifier))
        .layer(StreamLimitLayer::for_feedline(config.max_open_streams))
        .layer(DeadlineLayer::new(config.request_timeout))
        .layer(ShedLayer::new(config.max_concurrent_requests))
        .into_inner();

    let stop_accepting = {
        let shutdown = shutdown.clone();
        let health = health.clone();
        async move {
            shutdown.cancelled().await;
            // First, so load balancers stop routing here while in-flight calls drain.
            health.set_serving(false).await;
            tracing::info!("shutting down: not serving, draining in-flight calls");
        }
    };
    // No Nagle on accepted sockets. `Server::tcp_nodelay` applies only to listeners tonic binds
    // itself, not to an incoming stream we hand it: without this, each answer's trailers waited
    // for the client's delayed ACK, about 40 ms per unary call.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let incoming = crate::connections::limit(incoming, config.max_connections);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = config.tls.server() {
        tracing::info!("serving TLS only (FEEDLINE_TLS_CERT)");
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        // A peer that stops answering pings within the timeout is dropped with its streams.
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .http2_max_header_list_size(HTTP2_MAX_HEADER_LIST_BYTES)
        .layer(layers)
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming, stop_accepting);
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return Ok(result?),
        _ = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(config.shutdown_grace, &mut server).await {
        Ok(result) => Ok(result?),
        Err(_) => {
            tracing::warn!(
                grace_ms = config.shutdown_grace.as_millis() as u64,
                "grace period over: dropping the connections still open"
            );
            Ok(())
        }
    }
}
