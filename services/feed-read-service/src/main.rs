//! feed-read-service binary: see the library for what it does and README.md for its configuration.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    feedline_service_kit::launch(
        "feed-read-service",
        feed_read_service::Config::from_env,
        |config| config.server.listen_addr,
        feed_read_service::run,
    )
    .await
}
