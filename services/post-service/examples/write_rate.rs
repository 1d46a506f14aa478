//! Measures post-service's write rate through gRPC: Follow or CreatePost, closed loop, many calls
//! in flight, against a running server. Not a load tool (that is `crates/loadgen`): a probe of
//! the database write path only, for group-commit work on SQLite.
//!
//! `cargo run --release -p post-service --example write_rate -- ADDR follow|post [IN_FLIGHT]
//! [SECONDS] [USERS]` (defaults: 256 in flight, 10 s, 2000 users). It creates its users first,
//! then counts calls answered OK during the run (after a 1 s warm-up) and prints the rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use tonic::transport::Channel;

/// HTTP/2 connections the calls are spread over.
const CONNECTIONS: usize = 4;
const WARM_UP: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().cloned().unwrap_or("127.0.0.1:50051".into());
    let mode = args.get(1).cloned().unwrap_or("follow".into());
    let in_flight: usize = args.get(2).map_or(Ok(256), |a| a.parse())?;
    let seconds: u64 = args.get(3).map_or(Ok(10), |a| a.parse())?;
    let users: usize = args.get(4).map_or(Ok(2000), |a| a.parse())?;
    anyhow::ensure!(mode == "follow" || mode == "post", "mode is follow or post");

    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    let ids = create_users(&channels, users).await?;
    let ids = Arc::new(ids);

    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let end = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for i in 0..in_flight {
        let channel = channels[i % CONNECTIONS].clone();
        let (ids, next, ok, failed, mode) = (
            ids.clone(),
            next.clone(),
            ok.clone(),
            failed.clone(),
            mode.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut graph = GraphServiceClient::new(channel.clone());
            let mut posts = PostServiceClient::new(channel);
            let u = ids.len() as u64;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let a = n % u;
                let result = if mode == "follow" {
                    // Distinct pairs for the first u * (u - 1) calls: every Follow creates an edge.
                    let b = (a + 1 + (n / u) % (u - 1)) % u;
                    graph
                        .follow(FollowRequest {
                            follower_id: ids[a as usize],
                            followee_id: ids[b as usize],
                        })
                        .await
                        .map(|_| ())
                } else {
                    posts
                        .create_post(CreatePostRequest {
                            author_id: ids[a as usize],
                            body: format!("write_rate post {n}"),
                            idempotency_key: String::new(),
                        })
                        .await
                        .map(|_| ())
                };
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if now >= measure_from {
                    match result {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(status) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("{:?}: {}", status.code(), status.message());
                            }
                            0
                        }
                    };
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{mode}: {ok} ok, {} failed in {seconds} s: {:.0}/s ({in_flight} in flight, {users} users)",
        failed.load(Ordering::Relaxed),
        ok as f64 / seconds as f64
    );
    Ok(())
}

/// Creates `count` users with handles unique to this run; returns their ids.
async fn create_users(channels: &[Channel], count: usize) -> anyhow::Result<Vec<i64>> {
    let run = std::process::id();
    let mut tasks = Vec::new();
    for chunk in 0..64 {
        let mut graph = GraphServiceClient::new(channels[chunk % channels.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (chunk..count).step_by(64) {
                let user = graph
                    .create_user(CreateUserRequest {
                        handle: format!("wr{run}x{i}"),
                        display_name: format!("write_rate {i}"),
                        subject: String::new(),
                    })
                    .await?
                    .into_inner()
                    .user
                    .ok_or_else(|| anyhow::anyhow!("CreateUser answered without a user"))?;
                ids.push(user.user_id);
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await??);
    }
    Ok(ids)
}
