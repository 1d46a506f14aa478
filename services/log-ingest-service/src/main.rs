//! log-ingest-service binary: see the library for what it does and README.md for its
//! configuration.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    feedline_service_kit::launch(
        "log-ingest-service",
        log_ingest_service::Config::from_env,
        |config| config.server.listen_addr,
        log_ingest_service::run,
    )
    .await
}
