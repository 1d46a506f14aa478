//! fanout-service binary: see the library for what it does and README.md for its configuration.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: request paths allocate and free many small buffers
/// across threads; side by side, feed-read-service served 25% more reads with it
/// (docs/benchmarks.md, feed reads). log-ingest-service keeps glibc's: the database bounds it,
/// not its CPU, and its overload test bounds resident memory, which mimalloc nearly doubled.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    feedline_service_kit::launch(
        "fanout-service",
        fanout_service::Config::from_env,
        |config| config.server.listen_addr,
        fanout_service::run,
    )
    .await
}
