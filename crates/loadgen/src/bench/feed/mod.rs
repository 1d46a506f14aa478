//! `bench feed`: GetFeed reads/s and latency of feed-read-service for 20-item pages, next to
//! raw `ZREVRANGE` + pipelined `GET` of the same keys, in one run, on one cluster, on the same
//! data.
//!
//! Everything runs on this machine: a throwaway 3-master Redis Cluster, feed-read-service in
//! its `perf` build, and the load from this process, a `perf` build too: the raw baseline is
//! bound by the CPU of the client issuing it, so a dev-profile load generator would understate
//! raw Redis by about a third. The data is written straight into the cluster in fan-out's
//! layout (`data`), with every timeline built and every post cached, so post-service is never
//! needed: the service is pointed at a port nothing listens on, and a read that did need it
//! would fail and be counted as an error.
//!
//! The runs, one after another: raw reads in a closed loop and GetFeed in a closed loop, each
//! after a 1 s warm-up, then GetFeed at a fixed rate (open loop), straight after the closed
//! loop, on a warm service.

mod data;
mod load;
mod report;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_test_harness::{RedisCluster, ServiceProcess, free_addr};
use fred::prelude::ClientLike as _;

use self::report::Report;
use super::FeedBench;
use super::process::Planned;
use crate::connect::{self, Service};
use crate::stats::Totals;

/// HTTP/2 connections the service's callers share, round robin: one connection alone can be
/// the bottleneck (one reader task in the client and in the server per connection).
const CHANNELS: usize = 4;
/// Reads the fixed-rate run keeps in flight at most: far above what the rate needs at the
/// target latency (5,000/s x 10 ms = 50), below the service's default limit of 1,024 calls.
const OPEN_LOOP_IN_FLIGHT: usize = 512;
/// Each load is run this long first, unmeasured: connections open, caches and pools warm.
const WARM_UP: Duration = Duration::from_secs(1);

/// Runs the benchmark and prints its table; fails if any read failed or came back short.
pub async fn run(options: FeedBench) -> Result<ExitCode> {
    let logs = tempfile::tempdir()?;
    let service = Planned::new("feed-read-service", logs.path())?;
    // On return, the cluster and the service are dropped with `measure`'s future: killed.
    let report = tokio::select! {
        measured = measure(&options, &service) => measured.map_err(|error| service.failure(error)),
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
async fn measure(options: &FeedBench, service: &Planned) -> Result<Report> {
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

    // Nothing listens there: with every timeline built and every post cached, reads never
    // call post-service, and one that did would fail and be counted.
    let unused = format!("http://{}", free_addr()?);
    let mut process = service
        .run(&[
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", unused),
        ])
        .await?;
    let url = service.url();
    let target = Service {
        name: service.name,
        url: &url,
        token: None,
    };
    let channels = connect::channels(target, CHANNELS).await?;
    let clients = connect::clients(&channels, FeedServiceClient::new);

    let (users, tasks) = (options.users, options.clients);
    announce("raw ZREVRANGE + pipelined GET, closed loop", duration, true);
    load::raw(&redis, users, tasks, WARM_UP).await;
    let raw = load::raw(&redis, users, tasks, duration).await;

    announce("service GetFeed, closed loop", duration, true);
    let warm = load::get_feeds(&clients, users, tasks, None, WARM_UP).await;
    alive(&mut process, warm)?;
    let closed = load::get_feeds(&clients, users, tasks, None, duration).await;
    let closed = alive(&mut process, closed)?;

    let label = format!("service GetFeed at {} reads/s", options.rate);
    announce(&label, duration, false);
    let rate = Some(options.rate);
    let fixed = load::get_feeds(&clients, users, OPEN_LOOP_IN_FLIGHT, rate, duration).await;
    let fixed = alive(&mut process, fixed)?;

    drop(clients);
    drop(process);
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
fn alive(process: &mut ServiceProcess, totals: Totals) -> Result<Totals> {
    if !process.running() {
        bail!("feed-read-service exited during the run");
    }
    Ok(totals)
}

fn announce(label: &str, duration: Duration, warm_up: bool) {
    let after = if warm_up {
        format!(" (after {} s of warm-up)", WARM_UP.as_secs())
    } else {
        String::new()
    };
    println!("running: {label}, {} s{after}", duration.as_secs());
}
