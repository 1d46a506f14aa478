//! The body of every service's `main`: config, telemetry, bind, run, flush, in that order; or,
//! with the `healthcheck` argument, one health check of the server already running.

use std::ffi::OsString;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Env, process_env};
use crate::healthcheck::{self, local_target};
use crate::{EXIT_CONFIG, shutdown_on_signals};

/// Exit code for a bad command line, as shells and most tools use it.
const EXIT_USAGE: u8 = 2;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// No argument: run the server.
    Serve,
    /// `healthcheck`: ask the running server whether it is SERVING.
    Healthcheck,
    /// `--help` or `-h`.
    Help,
}

impl Mode {
    /// Parses the arguments after the program name; `Err` is the one-line complaint.
    fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Self, String> {
        let mode = match args.next() {
            None => return Ok(Mode::Serve),
            Some(arg) => match arg.to_str() {
                Some("healthcheck") => Mode::Healthcheck,
                Some("--help" | "-h") => Mode::Help,
                _ => return Err(format!("unknown argument {arg:?}")),
            },
        };
        match args.next() {
            None => Ok(mode),
            Some(extra) => Err(format!("unexpected argument {extra:?}")),
        }
    }
}

/// The `--help` text.
fn usage(service_name: &str) -> String {
    let timeout = healthcheck::TIMEOUT;
    [
        format!("usage: {service_name} [healthcheck]"),
        String::new(),
        "With no argument, serves gRPC on FEEDLINE_LISTEN_ADDR; every setting is an".to_owned(),
        "environment variable (see README.md).".to_owned(),
        String::new(),
        "  healthcheck  asks the server on FEEDLINE_LISTEN_ADDR (read from the same".to_owned(),
        format!("               environment) for its gRPC health within {timeout:?}: exits 0"),
        "               when SERVING, otherwise 1 with one line on stderr".to_owned(),
        "  -h, --help   prints this text".to_owned(),
    ]
    .join("\n")
}

/// Runs a service process. With no argument: reads and validates its config before anything
/// else (a bad value exits with [`EXIT_CONFIG`] and one line naming the variable), installs
/// telemetry, binds `listen_addr`, calls `run` with a token cancelled by SIGTERM / Ctrl-C, and
/// flushes traces last so the spans of the shutdown itself are exported. With `healthcheck`:
/// reads the same config and checks the server on its listen port (see [`healthcheck`]).
/// Any other argument exits with code 2.
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
            println!("{}", usage(service_name));
            return ExitCode::SUCCESS;
        }
        Err(complaint) => {
            eprintln!("{service_name}: {complaint}; usage: {service_name} [healthcheck | --help]");
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
    let telemetry_config = feedline_telemetry::TelemetryConfig::from_env(env.vars(), service_name);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        Mode::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn arguments_choose_the_mode() {
        assert_eq!(parse(&[]), Ok(Mode::Serve));
        assert_eq!(parse(&["healthcheck"]), Ok(Mode::Healthcheck));
        assert_eq!(parse(&["--help"]), Ok(Mode::Help));
        assert_eq!(parse(&["-h"]), Ok(Mode::Help));
        assert_eq!(
            parse(&["bogus"]),
            Err("unknown argument \"bogus\"".to_owned())
        );
        assert_eq!(
            parse(&["healthcheck", "bogus"]),
            Err("unexpected argument \"bogus\"".to_owned())
        );
    }

    #[test]
    fn usage_names_the_service_and_the_subcommand() {
        let text = usage("post-service");
        assert!(
            text.starts_with("usage: post-service [healthcheck]\n"),
            "{text}"
        );
        assert!(
            text.contains("  healthcheck  ") && text.contains("when SERVING"),
            "{text}"
        );
    }
}
