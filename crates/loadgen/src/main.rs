//! `loadgen <scenario> [options]`: parse, run, print the summary; exit 0 (done, nothing
//! lost), 1 (failure, or data missing) or 2 (bad command line). The first Ctrl-C ends the
//! load early and still runs the checks; the second exits at once.

use std::process::ExitCode;

use feedline_loadgen::cli::{self, Parsed};
use feedline_loadgen::{Scenario, report};
use tokio_util::sync::CancellationToken;

/// The variable log-ingest-service reads its admin token from, used when `--admin-token` is
/// not given.
const ADMIN_TOKEN_ENV: &str = "FEEDLINE_ADMIN_TOKEN";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Help and version exit 0 here, a bad command line 2.
    let mut options = match cli::parse(&args).unwrap_or_else(|error| error.exit()) {
        Parsed::Run(options) => *options,
        Parsed::DevKeys(dir) => return dev_keys(&dir),
        #[cfg(feature = "bench")]
        Parsed::Bench(bench) => return run_bench(bench).await,
    };
    if let Scenario::Logs(logs) = &mut options.scenario
        && logs.admin_token.is_none()
    {
        logs.admin_token = std::env::var(ADMIN_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty());
    }
    if options.target.token.is_none() {
        options.target.token = default_token();
    }
    let stop = CancellationToken::new();
    let interrupted = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nloadgen: stopping the load; the checks still run (Ctrl-C again to quit)");
            interrupted.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    match feedline_loadgen::run_until(options, stop).await {
        Ok(report) => {
            print!("{}", report::text::render(&report));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("loadgen: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// `loadgen bench <fanout|logs|feed> [options]`: what `cargo xtask bench` runs, with the
/// services' `perf` binaries beside this one.
#[cfg(feature = "bench")]
async fn run_bench(bench: feedline_loadgen::bench::Bench) -> ExitCode {
    match feedline_loadgen::bench::run(bench).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("loadgen bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `$FEEDLINE_TOKEN`, else the file `$FEEDLINE_TOKEN_FILE` names, else the admin token of the
/// stack `cargo xtask up` runs (its `.feedline/auth/admin.token`, from the workspace root),
/// else none.
fn default_token() -> Option<String> {
    if let Ok(token) = std::env::var("FEEDLINE_TOKEN")
        && !token.trim().is_empty()
    {
        return Some(token.trim().to_owned());
    }
    let file = std::env::var("FEEDLINE_TOKEN_FILE")
        .unwrap_or_else(|_| ".feedline/auth/admin.token".to_owned());
    std::fs::read_to_string(file)
        .ok()
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// `loadgen dev-keys DIR`: a signing key of the stack's own in DIR (kept if there), its
/// `jwks.json`, a service token (`service.token`) and an admin token (`admin.token`), each
/// valid a year: what docker-compose.yml's services verify and present. Not for production,
/// where the keys belong to an identity provider.
fn dev_keys(dir: &std::path::Path) -> ExitCode {
    use feedline_service_kit::auth::{DEFAULT_ADMIN_SCOPE, DevKeys, TokenSpec};
    let year = std::time::Duration::from_secs(365 * 24 * 3600);
    let made = DevKeys::load_or_create(dir, DEV_ISSUER, DEV_AUDIENCE).and_then(|keys| {
        std::fs::write(
            dir.join("service.token"),
            keys.service_token("compose-services"),
        )?;
        let mut admin = TokenSpec::new("compose-admin", DEFAULT_ADMIN_SCOPE);
        admin.lifetime = year;
        std::fs::write(dir.join("admin.token"), keys.token(&admin))
    });
    match made {
        Ok(()) => {
            println!("dev keys and tokens in {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen dev-keys: {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// `iss` and `aud` of the tokens `dev-keys` makes (docker-compose.yml sets the same).
const DEV_ISSUER: &str = "https://feedline.compose";
const DEV_AUDIENCE: &str = "feedline";
