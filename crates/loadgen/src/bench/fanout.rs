//! `bench fanout`: timeline writes/s of our fan-out next to a raw pipelined ZADD stream into
//! the same Redis Cluster, in one run, on timelines filled to the cap first.
//!
//! Everything runs on this machine: a 3-master cluster (`--replicas N`: with N replicas each;
//! `--wait-replicas N`: fanout-service waits for N of them per event, `WAIT`), post-service
//! (SQLite, the embedded default) and fanout-service in their `perf` builds, and the load from
//! this process. The graph is loadgen's (`social`), the load its driver (`drive`), filling,
//! trimming and the raw baseline its `timelines::raw`, the drain its `timelines::check`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_test_harness::RedisCluster;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::FanoutBench;
use super::process::Planned;
use crate::connect::{self, Channel, Service};
use crate::drive::{OpError, drive};
use crate::options::Load;
use crate::scenarios::posting::create_post;
use crate::social::{self, Plan};
use crate::stats::{Recorder, Totals};
use crate::timelines::check::wait_all;
use crate::timelines::raw;
use crate::timelines::watch::Watch;

/// Timeline size before the runs, as in production (Twitter's 800).
const CAP: usize = 800;
/// Raw ZADDs per timeline in the baseline.
const RAW_PER_KEY: usize = 200;
/// The operation's name in the recorder.
const OP: &str = "CreatePost";

/// Runs the benchmark and prints its figures.
pub async fn run(options: FanoutBench) -> Result<ExitCode> {
    if options.wait_replicas > options.replicas {
        bail!("--wait-replicas above --replicas: fanout-service would wait for those it has");
    }
    let tmp = tempfile::tempdir()?;
    let cluster = RedisCluster::start(3, options.replicas).await?;
    let post = Planned::new("post-service", tmp.path())?;
    let fanout = Planned::new("fanout-service", tmp.path())?;
    let mut fanout_process = fanout.start(&[
        ("FEEDLINE_REDIS_URL", cluster.url()),
        ("FEEDLINE_POST_SERVICE_URL", post.url()),
        (
            "FEEDLINE_FANOUT_WAIT_REPLICAS",
            options.wait_replicas.to_string(),
        ),
        (
            "FEEDLINE_FANOUT_WAIT_TIMEOUT_MS",
            options.wait_timeout_ms.to_string(),
        ),
    ])?;
    let database = format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("bench.db").display()
    );
    let mut post_process = post.start(&[
        ("FEEDLINE_DATABASE_URL", database),
        ("FEEDLINE_FANOUT_URL", fanout.url()),
        // This bench measures fan-out's capacity with more offered than it applies, so
        // admission control (which would refuse the excess) is off; the load generator's
        // closed-loop runs measure the stack with it on.
        ("FEEDLINE_ADMISSION_MAX_LAG_MS", "0".to_owned()),
        ("FEEDLINE_ADMISSION_MAX_BACKLOG", "0".to_owned()),
    ])?;
    fanout.ready(&mut fanout_process).await?;
    post.ready(&mut post_process).await?;
    let url = post.url();
    let service = Service {
        name: "post-service",
        url: &url,
        token: None,
    };
    let channels = connect::channels(service, 1).await?;
    let redis = connect::redis(&cluster.url()).await?;

    println!(
        "setting up: 1 author, {} followers, timelines filled to {CAP}",
        options.followers
    );
    let plan = Plan::fixed(1, options.followers);
    let world = social::create(&plan, &social::run_id(), &channels).await?;
    let (author, followers) = (world.ids[0], world.follower_ids(0));
    raw::fill(&redis, &followers, CAP).await?;
    // Warm-up: builds the follower index and the author list, so the runs measure steady state.
    let mut client = PostServiceClient::new(channels[0].clone());
    let warm = post_id(create_post(&mut client, author, body(0)).await)?;
    wait_visible(&redis, &followers, warm, Duration::from_secs(60)).await?;

    let raw_writes: Vec<(i64, usize)> = followers.iter().map(|&f| (f, RAW_PER_KEY)).collect();
    let raw_before = raw::zadd_per_master(&redis, &raw_writes).await?.per_s();
    raw::trim(&redis, &followers, CAP).await?;
    let ours = fanout_load(&channels[0], &redis, author, &followers, &options).await?;
    raw::trim(&redis, &followers, CAP).await?;
    let raw_after = raw::zadd_per_master(&redis, &raw_writes).await?.per_s();
    if !post_process.running() || !fanout_process.running() {
        bail!(
            "a service exited during the run (logs in {})",
            tmp.path().display()
        );
    }
    let lag = lag_lines(&fanout.log);
    print(&options, (raw_before, raw_after), &ours, &lag);
    Ok(ExitCode::SUCCESS)
}

fn body(n: u64) -> String {
    format!("benchmark post {n}")
}

/// The id of the post a CreatePost answered.
fn post_id(answer: Result<Option<feedline_proto::post::v1::Post>, OpError>) -> Result<i64> {
    match answer {
        Ok(Some(post)) => Ok(post.post_id),
        Ok(None) => bail!("CreatePost answered without a post"),
        Err(error) => bail!("CreatePost failed: {}: {}", error.kind, error.message),
    }
}

/// Waits until `post_id` is in every follower's timeline; when it was seen there.
async fn wait_visible(
    redis: &fred::prelude::Client,
    followers: &[i64],
    post_id: i64,
    limit: Duration,
) -> Result<Instant> {
    let mut watch = [Watch::new(post_id, followers.to_vec())];
    match wait_all(redis, &mut watch, limit).await? {
        Some(seen) => Ok(seen),
        None => bail!("post {post_id} not in every timeline after {limit:?}"),
    }
}

/// What the fan-out did under load.
struct LoadResult {
    totals: Totals,
    writes_per_s: f64,
    drain_ms: u128,
}

/// Closed-loop CreatePost load, then the wait for the last post to reach every timeline (one
/// author's events apply in order, so the newest being everywhere means all are).
async fn fanout_load(
    channel: &Channel,
    redis: &fred::prelude::Client,
    author: i64,
    followers: &[i64],
    options: &FanoutBench,
) -> Result<LoadResult> {
    let newest = Arc::new(AtomicI64::new(0));
    let client = PostServiceClient::new(channel.clone());
    let recorder = Arc::new(Recorder::new());
    let load = Load {
        vus: options.clients,
        duration: Duration::from_secs(options.duration),
        rate: None,
    };
    let seen = newest.clone();
    drive(&load, &recorder, &CancellationToken::new(), move |call| {
        let (mut client, newest) = (client.clone(), seen.clone());
        async move {
            let n = (call.vu as u64) << 32 | call.n;
            let answer = create_post(&mut client, author, body(n)).await;
            let result = answer.and_then(|post| {
                let post = post.ok_or_else(|| OpError::wrong("NoPost", "no post".to_owned()))?;
                newest.fetch_max(post.post_id, Ordering::Relaxed);
                Ok(())
            });
            (OP, result)
        }
    })
    .await;
    let load_end = Instant::now();
    let totals = recorder.finish();
    if let Some((kind, error)) = totals.errors.iter().next() {
        bail!("{kind}: {}", error.first_message);
    }
    let last = newest.load(Ordering::Relaxed);
    let done = wait_visible(redis, followers, last, Duration::from_secs(600)).await?;
    let posts = totals.all().ok;
    let took = done.saturating_duration_since(recorder.started());
    Ok(LoadResult {
        writes_per_s: (posts as usize * followers.len()) as f64 / took.as_secs_f64(),
        drain_ms: done.saturating_duration_since(load_end).as_millis(),
        totals,
    })
}

fn print(
    options: &FanoutBench,
    (raw_before, raw_after): (f64, f64),
    ours: &LoadResult,
    lag: &[String],
) {
    let raw_rate = (raw_before + raw_after) / 2.0;
    let all = ours.totals.all();
    let ms = |q: f64| all.latency.quantile_ms(q).unwrap_or(0.0);
    println!();
    println!(
        "fan-out benchmark: author with {} followers, {} clients, {} s, timelines at {CAP}",
        options.followers, options.clients, options.duration
    );
    println!(
        "  cluster: 3 masters + {} replicas each; WAIT {} replicas ({} ms) per event{}",
        options.replicas,
        options.wait_replicas,
        options.wait_timeout_ms,
        if options.wait_replicas == 0 {
            " (off)"
        } else {
            ""
        }
    );
    println!(
        "  raw pipelined ZADD (redis-cli --pipe per node)  before {raw_before:>9.0}/s   after {raw_after:>9.0}/s"
    );
    println!(
        "  our fan-out, timeline writes/s (load + drain)    {:>9.0}/s   = {:.2} of raw",
        ours.writes_per_s,
        ours.writes_per_s / raw_rate
    );
    println!(
        "  posts acknowledged                               {} ({:.0}/s during load)",
        all.ok,
        all.ok as f64 / options.duration as f64
    );
    println!(
        "  CreatePost latency ms                            p50 {:.1}  p99 {:.1}  max {:.1}",
        ms(0.50),
        ms(0.99),
        all.latency.max_ms().unwrap_or(0.0)
    );
    println!(
        "  backlog drained after the load stopped in        {} ms",
        ours.drain_ms
    );
    println!(
        "  fan-out lag windows (fanout-service log)        {}",
        if lag.is_empty() {
            "none logged".to_owned()
        } else {
            lag.join(" | ")
        }
    );
}

/// The "fanout lag" summaries fanout-service logged (one per 10 s window with events).
fn lag_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("fanout lag"))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| {
                    ["events=", "lag_p50_ms=", "lag_p99_ms=", "lag_max_ms="]
                        .iter()
                        .any(|field| w.starts_with(field))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
