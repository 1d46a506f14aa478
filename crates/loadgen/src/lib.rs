//! feedline's load generator: the seeds' experiments reproduced against a running stack.
//!
//! - `fanout`: posts to followers through post-service and fanout-service; the lag until a
//!   sampled post is in every follower's timeline (read straight from the Redis Cluster), the
//!   drain after the load, and every acknowledged post checked in every timeline.
//!   `--random-followers`: authors followed by users drawn at random among many, timelines
//!   filled to the cap, and the raw pipelined ZADD baseline of the same writes beside it.
//! - `follow-storm`: many follows as fast as post-service takes them, the rate fan-out
//!   applies them, and the lag of posts sent meanwhile.
//! - `read`: GetFeed over many users; `mixed`: DeathStarBench's 60/30/10 mix.
//! - `logs`: Ingest or IngestStream load, then every acknowledged record counted in the DB.
//!
//! [`run`] takes [`Options`] (from [`cli::parse`], clap, or built by hand) and returns a [`Report`]:
//! `report::text::render` is the summary, `report::json::to_json` the figures under stable
//! keys, `report::html::render` a self-contained page with charts. It writes `--json` and
//! `--html` itself.

#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod connect;
pub mod drive;
pub mod options;
pub mod report;
pub mod scenarios;
pub mod social;
pub mod stats;
pub mod timelines;

use std::fs::File;
use std::path::Path;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;

pub use options::{
    FanoutOptions, FeedOptions, FollowStormOptions, Load, LogsOptions, Options, Scenario,
    ScenarioKind, Shape, Target, TimelineSettings,
};
pub use report::Report;

/// Runs `options`' scenario to the end.
pub async fn run(options: Options) -> Result<Report> {
    run_until(options, CancellationToken::new()).await
}

/// Runs `options`' scenario; cancelling `stop` ends the load early (the checks after it still
/// run). Writes the JSON and HTML reports when asked.
pub async fn run_until(options: Options, stop: CancellationToken) -> Result<Report> {
    // Opened first: a path that cannot be written fails now, not after the load.
    let json = options.json.as_deref().map(create).transpose()?;
    let html = options.html.as_deref().map(create).transpose()?;
    let ctx = scenarios::Context {
        options: &options,
        stop,
        run_id: social::run_id(),
    };
    let ran = match &options.scenario {
        Scenario::Fanout(fanout) => scenarios::fanout::run(fanout, &ctx).await,
        Scenario::Read(feed) => scenarios::read::run(feed, &ctx).await,
        Scenario::Mixed(feed) => scenarios::mixed::run(feed, &ctx).await,
        Scenario::Logs(logs) => scenarios::logs::run(logs, &ctx).await,
        Scenario::FollowStorm(storm) => scenarios::follow_storm::run(storm, &ctx).await,
    };
    let report = match ran {
        Ok(report) => report,
        Err(error) => {
            // No empty report files left behind by a run that did not happen.
            for (path, _) in json.iter().chain(html.iter()) {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
    };
    if let Some((path, file)) = json {
        let text = serde_json::to_string_pretty(&report::json::to_json(&report))?;
        write(path, file, &text)?;
    }
    if let Some((path, file)) = html {
        write(path, file, &report::html::render(&report))?;
    }
    Ok(report)
}

fn create(path: &Path) -> Result<(&Path, File)> {
    let file = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((path, file))
}

fn write(path: &Path, mut file: File, text: &str) -> Result<()> {
    use std::io::Write as _;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}
