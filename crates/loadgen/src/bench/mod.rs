//! `loadgen bench <scenario>` (run by `cargo xtask bench`): each scenario starts its own
//! store and services from the `perf` binaries beside loadgen's, measures a service next to
//! the raw speed of the store beneath it, in the same run on the same machine, so the ratio
//! means something, and prints both side by side.

mod args;
pub mod fanout;
pub mod feed;
pub mod logs;
mod process;

use std::process::ExitCode;

use anyhow::Result;

pub use args::{Bench, FanoutBench, FeedBench, LogsBench};

/// Runs `bench` with the service binaries of loadgen's own folder; the exit code says whether
/// every check passed.
pub async fn run(bench: Bench) -> Result<ExitCode> {
    match bench {
        Bench::Fanout(options) => fanout::run(options).await,
        Bench::Logs(options) => logs::run(options).await,
        Bench::Feed(options) => feed::run(options).await,
    }
}
