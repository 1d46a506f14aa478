//! The two reads and the three loads: raw reads straight from Redis and GetFeed through the
//! service, both closed loops of loadgen's driver (each task sends its next read when the last
//! is answered), and GetFeed at a fixed rate (its open loop: latency runs from when each read
//! was due, so a stalled service cannot hide its stall by slowing the load down).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_redis::keys;
use fred::prelude::{Client, KeysInterface as _, SortedSetsInterface as _};
use fred::types::Value;
use tokio_util::sync::CancellationToken;

use super::data::{pick, run_seed};
use crate::connect::Channel;
use crate::drive::{OpError, Outcome, drive};
use crate::options::Load;
use crate::stats::{Recorder, Totals};

/// Items per page, the contract's default.
pub const PAGE: usize = 20;

/// `ZREVRANGE tl:{user} 0 19`, then one pipeline of the 20 `GET pc:{id}` (fred sends each to
/// its node); the page must be full and every post cached.
async fn raw_read(redis: &Client, user: i64) -> Result<()> {
    let members: Vec<String> = redis
        .zrevrange(keys::timeline(user), 0, PAGE as i64 - 1, false)
        .await?;
    let pipeline = redis.pipeline();
    for member in &members {
        let post_id = keys::parse_member(member).context("a timeline member is not a post id")?;
        let () = pipeline.get(keys::post_cache(post_id)).await?;
    }
    let posts: Vec<Value> = pipeline.all().await?;
    ensure!(
        posts.len() == PAGE && posts.iter().all(|p| !p.is_null()),
        "raw read of user {user}: {} posts, {} cached",
        posts.len(),
        posts.iter().filter(|p| !p.is_null()).count()
    );
    Ok(())
}

/// GetFeed of the first page of `user`; the page must hold PAGE items.
async fn get_feed(client: &mut FeedServiceClient<Channel>, user: i64) -> Outcome {
    let request = GetFeedRequest {
        user_id: user,
        page_size: Some(PAGE as i32),
        page_token: String::new(),
    };
    let result = match client.get_feed(request).await {
        Ok(page) if page.get_ref().items.len() == PAGE => Ok(()),
        Ok(page) => Err(OpError::wrong(
            "ShortPage",
            format!(
                "GetFeed of user {user} answered {} items, not {PAGE}",
                page.get_ref().items.len()
            ),
        )),
        Err(status) => Err(OpError::status(&status)),
    };
    ("GetFeed", result)
}

/// `tasks` closed-loop raw readers of random users for `duration`.
pub async fn raw(redis: &Client, users: usize, tasks: usize, duration: Duration) -> Totals {
    let seed = run_seed();
    let redis = redis.clone();
    let load = Load {
        vus: tasks,
        duration,
        rate: None,
    };
    run(&load, move |n| {
        let redis = redis.clone();
        async move {
            let result = raw_read(&redis, pick(seed, n, users)).await;
            let result = result.map_err(|e| OpError::wrong("RawRead", format!("{e:#}")));
            ("RawRead", result)
        }
    })
    .await
}

/// GetFeed of random users for `duration`, round robin over `clients` (one HTTP/2 connection
/// each): `tasks` closed-loop callers, or with `rate`, an open loop of at most `tasks` reads
/// in flight.
pub async fn get_feeds(
    clients: &[FeedServiceClient<Channel>],
    users: usize,
    tasks: usize,
    rate: Option<u64>,
    duration: Duration,
) -> Totals {
    let seed = run_seed();
    let clients = clients.to_vec();
    let load = Load {
        vus: tasks,
        duration,
        rate: rate.map(|r| r as f64),
    };
    run(&load, move |n| {
        let mut client = clients[n as usize % clients.len()].clone();
        async move { get_feed(&mut client, pick(seed, n, users)).await }
    })
    .await
}

/// Drives `read(n)` (n: the read's number) as `load` says; what was recorded.
async fn run<F, Fut>(load: &Load, read: F) -> Totals
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let recorder = Arc::new(Recorder::new());
    drive(load, &recorder, &CancellationToken::new(), move |call| {
        read(call.n)
    })
    .await;
    recorder.finish()
}
