//! The body of every service's `main`: config, telemetry, bind, run, flush, in that order; or,
//! with the `healthcheck` argument, one health check of the server already running; or the
//! `--help` and `--version` texts (see `cli`).

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{self, Mode};
use crate::config::{ConfigError, Env, process_env};
use crate::healthcheck::{self, local_target};
use crate::{EXIT_CONFIG, shutdown_on_signals};

/// Exit code for a bad command line, as shells and most tools use it.
const EXIT_USAGE: u8 = 2;

/// The `--help` text of a service whose config `read_config` reads: it lists every variable
/// the service looks up (found by reading the config from an empty environment, which also
/// records the names whose defaults apply), the TLS settings and telemetry's.
fn help<C>(service_name: &str, read_config: impl FnOnce(&Env) -> Result<C, ConfigError>) -> String {
    let probe = Env::new();
    // Defaults only: the outcome does not matter, the names looked up do.
    let _ = read_config(&probe);
    let _ = crate::tls::TlsConfig::from_env(&probe);
    let mut read = probe.read_names();
    read.extend(
        feedline_telemetry::ENV_VARS
            .iter()
            .map(|name| (*name).to_owned()),
    );
    cli::usage(service_name, healthcheck::TIMEOUT, &read)
}

/// Runs a service process. With no argument: reads and validates its config before anything
/// else (a bad value exits with [`EXIT_CONFIG`] and one line naming the variable), installs
/// telemetry, binds `listen_addr`, calls `run` with a token cancelled by SIGTERM / Ctrl-C, and
/// flushes traces last so the spans of the shutdown itself are exported. With `healthcheck`:
/// reads the same config and checks the server on its listen port (see [`healthcheck`]).
/// `--help` prints the settings it reads, `--version` the version; any other argument exits
/// with code 2.
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
    match Mode::parse(std::env::args_os().skip(1)) {
        Ok(Mode::Serve) => {}
        Ok(Mode::Healthcheck) => {
            return check_health(service_name, &env, read_config, listen_addr).await;
        }
        Ok(Mode::Help) => {
            println!("{}", help(service_name, read_config));
            return ExitCode::SUCCESS;
        }
        Ok(Mode::Version) => {
            println!("{service_name} {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(complaint) => {
            eprintln!(
                "{service_name}: {complaint}; {} (--help lists the settings)",
                cli::short_usage(service_name)
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let config = match read_config(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{service_name}: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    // Telemetry cannot depend on this crate: the names it reads are listed in
    // `feedline_telemetry::ENV_VARS` instead of being recorded by `Env`.
    let telemetry_config =
        match feedline_telemetry::TelemetrySettings::from_env(env.vars(), service_name) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("{service_name}: configuration error: {error}");
                return ExitCode::from(EXIT_CONFIG as u8);
            }
        };
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
        otlp = telemetry_config.config.otlp_endpoint.as_deref().unwrap_or("off"),
        metrics = ?telemetry.metrics_addr(),
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

/// The `healthcheck` subcommand: no telemetry, no port bound; exit 0 only when SERVING. A
/// config that cannot be read is unhealthy too (exit 1), since Docker reserves exit code 2.
async fn check_health<C>(
    service_name: &str,
    env: &Env,
    read_config: impl FnOnce(&Env) -> Result<C, ConfigError>,
    listen_addr: impl FnOnce(&C) -> SocketAddr,
) -> ExitCode {
    let tls = crate::tls::TlsConfig::from_env(env);
    let outcome = match read_config(env).and_then(|config| Ok((config, tls?))) {
        Ok((config, tls)) => {
            let target = local_target(listen_addr(&config));
            healthcheck::check(target, &tls, healthcheck::TIMEOUT)
                .await
                .map_err(|error| error.to_string())
        }
        Err(error) => Err(format!("configuration error: {error}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("{service_name}: healthcheck: {line}");
            ExitCode::FAILURE
        }
    }
}
