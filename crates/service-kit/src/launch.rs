//! The body of every service's `main`: config, telemetry, bind, run, flush, in that order.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Env, process_env};
use crate::{EXIT_CONFIG, shutdown_on_signals};

/// Runs a service process: reads and validates its config before anything else (a bad value
/// exits with [`EXIT_CONFIG`] and one line naming the variable), installs telemetry, binds
/// `listen_addr`, calls `run` with a token cancelled by SIGTERM / Ctrl-C, and flushes traces
/// last so the spans of the shutdown itself are exported.
pub async fn launch<C, Fut, E>(
    service_name: &str,
    read_config: impl FnOnce(&Env) -> Result<C, ConfigError>,
    listen_addr: impl FnOnce(&C) -> SocketAddr,
    run: impl FnOnce(C, TcpListener, CancellationToken) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let env = process_env();
    let config = match read_config(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{service_name}: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    let telemetry_config = feedline_telemetry::TelemetryConfig::from_env(&env, service_name);
    let telemetry = match feedline_telemetry::init(&telemetry_config) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{service_name}: telemetry: {error}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    let addr = listen_addr(&config);
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%addr, %error, "cannot listen");
            telemetry.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        %addr,
        otlp = telemetry_config.otlp_endpoint.as_deref().unwrap_or("off"),
        version = env!("CARGO_PKG_VERSION"),
        "{service_name} listening"
    );
    let result = run(config, listener, shutdown_on_signals()).await;
    let code = match result {
        Ok(()) => {
            tracing::info!("{service_name} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "{service_name} failed");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}
