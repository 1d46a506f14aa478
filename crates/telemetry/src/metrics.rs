//! The process's meter provider (OTLP push and Prometheus pull) and the admin HTTP server that
//! serves `/metrics` and `/healthz`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder as _, TextEncoder};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{MetricsConfig, TelemetryError};

/// How long the admin server may take to stop once told to (a scrape in flight finishes).
const ADMIN_STOP_DEADLINE: Duration = Duration::from_secs(5);

/// A meter provider with the readers `config` asks for, and the Prometheus registry the admin
/// server reads when it serves one.
pub(crate) fn meter_provider(
    config: &MetricsConfig,
    resource: Resource,
) -> Result<(SdkMeterProvider, Option<prometheus::Registry>), TelemetryError> {
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_periodic_exporter(exporter);
    }
    let registry = match config.admin_addr {
        None => None,
        Some(_) => {
            let registry = prometheus::Registry::new();
            let reader = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            builder = builder.with_reader(reader);
            Some(registry)
        }
    };
    Ok((builder.build(), registry))
}

/// The admin HTTP server, running as a task of the runtime [`crate::init`] was called on.
pub(crate) struct AdminServer {
    /// Where it listens (the real port when the setting asked for port 0).
    pub(crate) addr: SocketAddr,
    /// Sent (or dropped) by [`AdminServer::stop`]: the server stops accepting, answers the
    /// scrapes in flight and returns.
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl AdminServer {
    /// Binds `addr` now (so a taken port fails start-up) and serves `registry` on it.
    pub(crate) fn start(
        addr: SocketAddr,
        registry: prometheus::Registry,
    ) -> Result<Self, TelemetryError> {
        let listen_error = |e: std::io::Error| TelemetryError::MetricsListen(addr, e.to_string());
        let listener = std::net::TcpListener::bind(addr).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let router = Router::new()
            .route("/metrics", get(scrape))
            .route("/healthz", get(|| async { "ok\n" }))
            .with_state(registry);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { server.await });
        Ok(Self { addr, stop, task })
    }

    /// Stops the server and waits for it (a few seconds at most).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(ADMIN_STOP_DEADLINE, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "metrics server failed"),
            Ok(Err(error)) => tracing::warn!(%error, "metrics server task failed"),
            Err(_) => tracing::warn!("metrics server not stopped within the deadline"),
        }
    }
}

/// `GET /metrics`: every instrument of the process, in the Prometheus text format.
async fn scrape(State(registry): State<prometheus::Registry>) -> impl IntoResponse {
    let mut body = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot encode the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}
