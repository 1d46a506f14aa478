//! `cargo xtask bench fanout`: timeline writes/s of our fan-out next to a raw pipelined ZADD
//! stream into the same Redis Cluster, in one run, on timelines filled to the cap first.
//!
//! Everything runs on this machine: a 3-master cluster (`--replicas N`: with N replicas each;
//! `--wait-replicas N`: fanout-service waits for N of them per event, `WAIT`), post-service (SQLite, the embedded
//! default) and fanout-service built with the `perf` profile, and the load from this process.
//! Filling, trimming and the raw baseline are loadgen's (`feedline_loadgen::timelines::raw`),
//! shared with `loadgen fanout --random-followers`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use feedline_loadgen::timelines::raw;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_redis::keys;
use feedline_test_harness::{RedisCluster, wait_for_serving};
use fred::prelude::{ClientLike as _, Config, SortedSetsInterface as _};
use tonic::transport::Channel;

use super::process::{build_perf, free_port, perf_bin, spawn};

/// Options of `bench fanout`.
#[derive(Debug, PartialEq, Eq)]
pub struct FanoutBench {
    /// Followers of the one author.
    pub followers: usize,
    /// Concurrent CreatePost clients (closed loop, no think time).
    pub clients: usize,
    /// Seconds of load.
    pub duration: u64,
    /// Replicas per master of the cluster (0: 3 masters alone).
    pub replicas: usize,
    /// fanout-service's `FEEDLINE_FANOUT_WAIT_REPLICAS` (0: off).
    pub wait_replicas: usize,
    /// fanout-service's `FEEDLINE_FANOUT_WAIT_TIMEOUT_MS`.
    pub wait_timeout_ms: u64,
}

impl Default for FanoutBench {
    fn default() -> Self {
        Self {
            followers: 500,
            clients: 64,
            duration: 20,
            replicas: 0,
            wait_replicas: 0,
            wait_timeout_ms: 100,
        }
    }
}

/// Timeline size before the runs, as in production (Twitter's 800).
const CAP: usize = 800;
/// Raw ZADDs per timeline in the baseline.
const RAW_PER_KEY: usize = 200;

/// Runs the benchmark and prints its figures.
pub async fn run(options: FanoutBench) -> Result<std::process::ExitCode> {
    build_perf(&["post-service", "fanout-service"])?;
    let tmp = tempfile::tempdir()?;
    if options.wait_replicas > options.replicas {
        bail!("--wait-replicas above --replicas: fanout-service would wait for those it has");
    }
    let cluster = RedisCluster::start(3, options.replicas).await?;
    let (post_port, fanout_port) = (free_port()?, free_port()?);
    let post_addr = format!("127.0.0.1:{post_port}");
    let fanout_addr = format!("127.0.0.1:{fanout_port}");
    let _fanout = spawn(
        &perf_bin("fanout-service"),
        &[
            ("FEEDLINE_LISTEN_ADDR", fanout_addr.clone()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", format!("http://{post_addr}")),
            (
                "FEEDLINE_FANOUT_WAIT_REPLICAS",
                options.wait_replicas.to_string(),
            ),
            (
                "FEEDLINE_FANOUT_WAIT_TIMEOUT_MS",
                options.wait_timeout_ms.to_string(),
            ),
        ],
        &tmp.path().join("fanout.log"),
    )?;
    let _post = spawn(
        &perf_bin("post-service"),
        &[
            ("FEEDLINE_LISTEN_ADDR", post_addr.clone()),
            (
                "FEEDLINE_DATABASE_URL",
                format!(
                    "sqlite://{}?mode=rwc",
                    tmp.path().join("bench.db").display()
                ),
            ),
            ("FEEDLINE_FANOUT_URL", format!("http://{fanout_addr}")),
            // This bench measures fan-out's capacity with more offered than it applies, so
            // admission control (which would refuse the excess) is off; the load generator's
            // closed-loop runs measure the stack with it on.
            ("FEEDLINE_ADMISSION_MAX_LAG_MS", "0".to_owned()),
            ("FEEDLINE_ADMISSION_MAX_BACKLOG", "0".to_owned()),
        ],
        &tmp.path().join("post.log"),
    )?;
    for addr in [&post_addr, &fanout_addr] {
        wait_for_serving(addr.parse()?, "", Duration::from_secs(60)).await?;
    }
    let channel = Channel::from_shared(format!("http://{post_addr}"))?
        .connect()
        .await?;
    let redis = fred::prelude::Builder::from_config(Config::from_url(&cluster.url())?).build()?;
    redis.init().await?;

    println!(
        "setting up: 1 author, {} followers, timelines filled to {CAP}",
        options.followers
    );
    let (author, followers) = graph(&channel, options.followers).await?;
    raw::fill(&redis, &followers, CAP).await?;
    // Warm-up: builds the follower index and the author list, so the runs measure steady state.
    let warm = create_post(&mut PostServiceClient::new(channel.clone()), author, 0).await?;
    wait_visible(&redis, &followers, warm, Duration::from_secs(60)).await?;

    let raw_writes: Vec<(i64, usize)> = followers.iter().map(|&f| (f, RAW_PER_KEY)).collect();
    let raw_before = raw::zadd_per_master(&redis, &raw_writes).await?.per_s();
    raw::trim(&redis, &followers, CAP).await?;
    let ours = fanout_load(&channel, &redis, author, &followers, &options).await?;
    raw::trim(&redis, &followers, CAP).await?;
    let raw_after = raw::zadd_per_master(&redis, &raw_writes).await?.per_s();
    let lag = lag_lines(&tmp.path().join("fanout.log"));

    let raw_rate = (raw_before + raw_after) / 2.0;
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
        ours.posts,
        ours.posts as f64 / options.duration as f64
    );
    println!(
        "  CreatePost latency ms                            p50 {:.1}  p99 {:.1}  max {:.1}",
        ours.p50_ms, ours.p99_ms, ours.max_ms
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
    Ok(std::process::ExitCode::SUCCESS)
}

async fn graph(channel: &Channel, followers: usize) -> Result<(i64, Vec<i64>)> {
    let graph = GraphServiceClient::new(channel.clone());
    let user = |handle: String| {
        let mut graph = graph.clone();
        async move {
            Ok::<i64, anyhow::Error>(
                graph
                    .create_user(CreateUserRequest {
                        handle,
                        display_name: String::new(),
                        subject: String::new(),
                    })
                    .await?
                    .into_inner()
                    .user
                    .context("no user")?
                    .user_id,
            )
        }
    };
    let author = user("bench_author".into()).await?;
    let mut ids = Vec::with_capacity(followers);
    for chunk in (0..followers).collect::<Vec<_>>().chunks(32) {
        let made = futures::future::try_join_all(chunk.iter().map(|i| {
            let user = &user;
            let mut graph = graph.clone();
            async move {
                let fan = user(format!("bench_fan_{i:06}")).await?;
                graph
                    .follow(FollowRequest {
                        follower_id: fan,
                        followee_id: author,
                    })
                    .await?;
                Ok::<i64, anyhow::Error>(fan)
            }
        }))
        .await?;
        ids.extend(made);
    }
    Ok((author, ids))
}

async fn create_post(posts: &mut PostServiceClient<Channel>, author: i64, n: u64) -> Result<i64> {
    Ok(posts
        .create_post(CreatePostRequest {
            author_id: author,
            body: format!("benchmark post {n}"),
            idempotency_key: String::new(),
        })
        .await?
        .into_inner()
        .post
        .context("no post")?
        .post_id)
}

/// Polls until `post_id` is in every follower's timeline.
async fn wait_visible(
    redis: &fred::prelude::Client,
    followers: &[i64],
    post_id: i64,
    limit: Duration,
) -> Result<()> {
    let started = Instant::now();
    let m = keys::member(post_id);
    loop {
        let pipeline = redis.pipeline();
        for f in followers {
            let () = pipeline.zscore(keys::timeline(*f), m.as_str()).await?;
        }
        let scores: Vec<Option<f64>> = pipeline.all().await?;
        if scores.iter().all(Option::is_some) {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!("post {post_id} not in every timeline after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct LoadResult {
    posts: usize,
    writes_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
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
    let started = Instant::now();
    let stop = started + Duration::from_secs(options.duration);
    let newest = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let clients: Vec<_> = (0..options.clients)
        .map(|c| {
            let mut posts = PostServiceClient::new(channel.clone());
            let newest = newest.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while Instant::now() < stop {
                    let sent = Instant::now();
                    let id = create_post(&mut posts, author, (c as u64) << 32 | n).await?;
                    latencies.push(sent.elapsed());
                    newest.fetch_max(id, std::sync::atomic::Ordering::Relaxed);
                    n += 1;
                }
                Ok::<Vec<Duration>, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await??);
    }
    let load_end = Instant::now();
    wait_visible(
        redis,
        followers,
        newest.load(std::sync::atomic::Ordering::Relaxed),
        Duration::from_secs(600),
    )
    .await?;
    let done = Instant::now();
    latencies.sort();
    let ms = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    Ok(LoadResult {
        posts: latencies.len(),
        writes_per_s: (latencies.len() * followers.len()) as f64 / (done - started).as_secs_f64(),
        p50_ms: ms(0.50),
        p99_ms: ms(0.99),
        max_ms: ms(1.0),
        drain_ms: (done - load_end).as_millis(),
    })
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
                    w.starts_with("events=")
                        || w.starts_with("lag_p50_ms=")
                        || w.starts_with("lag_p99_ms=")
                        || w.starts_with("lag_max_ms=")
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
