//! `cargo xtask bench feed`: GetFeed reads/s and latency of feed-read-service for 20-item
//! pages, next to raw `ZREVRANGE` + pipelined `GET` of the same keys, in one run, on one
//! cluster, on the same data.
//!
//! Everything runs on this machine: a throwaway 3-master Redis Cluster, feed-read-service built
//! with the `perf` profile, and the load from a `perf` build of xtask itself (`run`). The data is written straight into
//! the cluster in fan-out's layout (`data`), with every timeline built and every post cached,
//! so post-service is never needed: the service is pointed at a port nothing listens on, and a
//! read that did need it would fail and be counted as an error.
//!
//! The runs, one after another: raw reads in a closed loop and GetFeed in a closed loop, each
//! after a 1 s warm-up, then GetFeed at a fixed rate (open loop, `load`), straight after the
//! closed loop, on a warm service.

mod data;
mod load;
mod report;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_test_harness::{RedisCluster, wait_for_serving};
use fred::prelude::ClientLike as _;
use tonic::transport::Channel;

use self::load::Outcome;
use self::report::Report;
use super::process::{Proc, build_perf, free_port, perf_bin, spawn};

/// Options of `bench feed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedBench {
    /// Users with a timeline; each read picks one at random.
    pub users: usize,
    /// Concurrent readers of the closed-loop runs (raw and service).
    pub clients: usize,
    /// Seconds of each run.
    pub duration: u64,
    /// Reads per second of the fixed-rate run.
    pub rate: u64,
}

impl Default for FeedBench {
    fn default() -> Self {
        Self {
            users: 1000,
            clients: 32,
            duration: 10,
            rate: 5000,
        }
    }
}

/// HTTP/2 connections the service's callers share, round robin: one connection alone can be
/// the bottleneck (one reader task in the client and in the server per connection).
const CHANNELS: usize = 4;
/// Reads the fixed-rate run keeps in flight at most: far above what the rate needs at the
/// target latency (5,000/s x 10 ms = 50), below the service's default limit of 1,024 calls.
const OPEN_LOOP_IN_FLIGHT: usize = 512;
/// Each load is run this long first, unmeasured: connections open, caches and pools warm.
const WARM_UP: Duration = Duration::from_secs(1);

/// Set in the optimized copy of xtask that `run` starts: it measures instead of building.
const OPTIMIZED_CHILD: &str = "FEEDLINE_BENCH_OPTIMIZED_LOAD";

/// Builds feed-read-service and xtask itself with the `perf` profile, then runs the benchmark
/// in that optimized xtask: the raw baseline is bound by the CPU of the client issuing it (this
/// process), so a dev-profile load generator would understate raw Redis by about a third, and
/// its heavier gRPC client would take CPU from the service on a small machine.
pub async fn run(options: FeedBench) -> Result<ExitCode> {
    if std::env::var_os(OPTIMIZED_CHILD).is_some() {
        return measure_and_report(options).await;
    }
    crate::redis::ensure_redis_server()?;
    build_perf(&["feed-read-service", "xtask"])?;
    let xtask = perf_bin("xtask");
    println!("load generator: {}", xtask.display());
    let mut child = tokio::process::Command::new(&xtask)
        .args(std::env::args_os().skip(1))
        .env(OPTIMIZED_CHILD, "1")
        .spawn()
        .with_context(|| format!("starting {}", xtask.display()))?;
    loop {
        tokio::select! {
            status = child.wait() => return Ok(crate::workspace::exit_code(status?)),
            // The child gets the same Ctrl-C, stops its cluster and service, and exits.
            _ = tokio::signal::ctrl_c() => {}
        }
    }
}

/// The benchmark itself, in the optimized xtask; fails if any read failed or came back short.
async fn measure_and_report(options: FeedBench) -> Result<ExitCode> {
    let logs = tempfile::tempdir()?;
    let log = logs.path().join("feed-read-service.log");
    // On return, the cluster and the service are dropped with `measure`'s future: killed.
    let report = tokio::select! {
        measured = measure(&options, &log) => measured.map_err(|error| match log_tail(&log) {
            Some(tail) => error.context(format!("feed-read-service's last log lines:\n{tail}")),
            None => error,
        }),
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    }?;
    report.print(&options, CHANNELS);
    Ok(if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every run, in order; the cluster and the service live only inside.
async fn measure(options: &FeedBench, log: &Path) -> Result<Report> {
    let duration = Duration::from_secs(options.duration);
    let cluster = RedisCluster::start(3, 0).await?;
    let redis = feedline_redis::connect(&cluster.url(), &Default::default())
        .await
        .context("connecting to the benchmark's cluster")?;

    println!(
        "setting up: {} users, timelines of {} entries from {} cached posts",
        options.users,
        data::CAP,
        data::POSTS
    );
    let setup = data::fill(&redis, options.users).await?;
    println!("set up in {:.1} s", setup.took.as_secs_f64());

    let addr = format!("127.0.0.1:{}", free_port()?);
    // Nothing listens there: with every timeline built and every post cached, reads never
    // call post-service, and one that did would fail and be counted.
    let unused = format!("http://127.0.0.1:{}", free_port()?);
    let mut service = spawn(
        &perf_bin("feed-read-service"),
        &[
            ("FEEDLINE_LISTEN_ADDR", addr.clone()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", unused),
        ],
        log,
    )?;
    wait_for_serving(addr.parse()?, "", Duration::from_secs(60)).await?;
    let mut clients = Vec::with_capacity(CHANNELS);
    for _ in 0..CHANNELS {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        clients.push(FeedServiceClient::new(channel));
    }

    let (users, tasks) = (options.users, options.clients);
    announce("raw ZREVRANGE + pipelined GET, closed loop", duration, true);
    load::raw(&redis, users, tasks, WARM_UP).await?;
    let raw = load::raw(&redis, users, tasks, duration).await?;

    announce("service GetFeed, closed loop", duration, true);
    alive(
        &mut service,
        load::closed_loop(&clients, users, tasks, WARM_UP).await?,
    )?;
    let closed = alive(
        &mut service,
        load::closed_loop(&clients, users, tasks, duration).await?,
    )?;

    announce(
        &format!("service GetFeed at {} reads/s", options.rate),
        duration,
        false,
    );
    let fixed = alive(
        &mut service,
        load::open_loop(&clients, users, options.rate, OPEN_LOOP_IN_FLIGHT, duration).await?,
    )?;

    drop(clients);
    drop(service);
    let _ = redis.quit().await;
    drop(cluster);
    Ok(Report {
        setup,
        raw,
        closed,
        fixed,
    })
}

/// Fails if the service exited during a run: its errors are a crash, not a measurement.
fn alive(service: &mut Proc, outcome: Outcome) -> Result<Outcome> {
    if let Some(status) = service.exited() {
        bail!("feed-read-service exited during the run ({status})");
    }
    Ok(outcome)
}

fn announce(label: &str, duration: Duration, warm_up: bool) {
    let after = if warm_up {
        format!(" (after {} s of warm-up)", WARM_UP.as_secs())
    } else {
        String::new()
    };
    println!("running: {label}, {} s{after}", duration.as_secs());
}

/// The last lines the service logged, if it logged any.
fn log_tail(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
    (!tail.is_empty()).then_some(tail)
}
