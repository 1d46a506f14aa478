//! Writing posts through post-service and waiting for fan-out to place them: what the
//! scenarios do before their load (a warm-up post per author, or timelines filled first),
//! and the CreatePost load itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::connect::Channel;
use anyhow::{Context as _, Result, bail};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{CreatePostRequest, Post};
use feedline_redis::keys;
use fred::prelude::{Client, SetsInterface as _};
use tokio::time::Instant;

use super::Context;
use super::load::{Measured, measure};
use crate::connect;
use crate::drive::{Call, OpError};
use crate::options::Load;
use crate::social::Social;
use crate::stats::run_steps;
use crate::timelines::check::wait_all;
use crate::timelines::{PostLog, Watch};

/// Authors posting at once before the load.
const SETUP_CONCURRENCY: usize = 32;
/// How long the posts written before the load may take to reach every timeline.
const SETUP_FANOUT_LIMIT: Duration = Duration::from_secs(180);

/// CreatePost as `load` says: call n posts as the author (user index) `author(call)` picks,
/// each acknowledged post recorded, and sampled for lag, in `posts`.
pub async fn post_load<P>(
    load: &Load,
    ctx: &Context<'_>,
    channels: &[Channel],
    social: Arc<Social>,
    posts: Arc<PostLog>,
    author: P,
) -> Measured
where
    P: Fn(Call) -> u32 + Send + Sync + 'static,
{
    let clients = Arc::new(connect::clients(channels, PostServiceClient::new));
    let run_id = ctx.run_id.clone();
    measure(load, &ctx.stop, move |call| {
        let author = author(call);
        let author_id = social.ids[author as usize];
        let mut client = clients[call.vu % clients.len()].clone();
        let posts = posts.clone();
        let body = format!("loadgen {run_id} post {}", call.n);
        async move {
            let result = match create_post(&mut client, author_id, body).await {
                Ok(post) => posts.record(author, post.as_ref(), true),
                Err(error) => Err(error),
            };
            ("CreatePost", result)
        }
    })
    .await
}

/// One CreatePost of `author_id` (no idempotency key, as a client without retries sends).
pub async fn create_post(
    client: &mut PostServiceClient<Channel>,
    author_id: i64,
    body: String,
) -> Result<Option<Post>, OpError> {
    let request = CreatePostRequest {
        author_id,
        body,
        idempotency_key: String::new(),
    };
    match client.create_post(request).await {
        Ok(response) => Ok(response.into_inner().post),
        Err(status) => Err(OpError::status(&status)),
    }
}

/// When a setup post's refusal carries no RetryInfo.
const SETUP_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// `per_author` posts by each of `authors` (one after another per author, authors at once),
/// recorded in `posts` without sampling.
pub async fn write_posts(
    channels: &[Channel],
    social: &Social,
    authors: &[u32],
    per_author: usize,
    run: &str,
    posts: &PostLog,
) -> Result<()> {
    run_steps(
        "writing posts",
        (authors.len() * per_author) as u64,
        SETUP_CONCURRENCY,
        authors.iter().enumerate(),
        |(i, &author), done| {
            let mut client = PostServiceClient::new(channels[i % channels.len()].clone());
            async move {
                for n in 0..per_author {
                    let body = format!("loadgen {run} setup post {n} of user {author}");
                    // A refusal (fan-out behind its bound) wrote nothing: sent again after its
                    // RetryInfo delay. Any other error fails the setup.
                    let post = loop {
                        match create_post(&mut client, social.ids[author as usize], body.clone())
                            .await
                        {
                            Ok(post) => break post,
                            Err(e) if e.kind == "ResourceExhausted" => {
                                let delay = e.pushback.unwrap_or(SETUP_RETRY_DELAY);
                                tokio::time::sleep(delay).await;
                            }
                            Err(e) => anyhow::bail!("CreatePost: {}: {}", e.kind, e.message),
                        }
                    };
                    posts
                        .record(author, post.as_ref(), false)
                        .map_err(|e| anyhow::anyhow!("CreatePost: {}", e.message))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
        },
    )
    .await
}

/// One post by each author of `social`: a warm-up that makes fan-out build each author's
/// follower index and post list.
pub async fn first_posts(
    channels: &[Channel],
    social: &Social,
    run: &str,
    posts: &PostLog,
) -> Result<()> {
    write_posts(channels, social, &social.authors, 1, run, posts).await
}

/// Waits until the last post each author wrote so far is in all its followers' timelines
/// (`skip[i]`: user i is a celebrity, not fanned out). Fails early, naming the cause, when
/// fanout-service lists as celebrities authors we do not (the thresholds differ).
pub async fn wait_fanned_out(
    redis: &Client,
    social: &Social,
    posts: &PostLog,
    skip: &[bool],
) -> Result<Duration> {
    let started = Instant::now();
    let mut watched: Vec<u32> = Vec::new();
    let mut watches: Vec<Watch> = Vec::new();
    for (author, written) in posts.by_author(social.ids.len(), 0).iter().enumerate() {
        let Some(last) = written.last() else { continue };
        if skip.get(author).copied().unwrap_or(true) {
            continue;
        }
        watched.push(author as u32);
        watches.push(Watch::new(last.post_id, social.follower_ids(author as u32)));
    }
    let total: usize = watches.iter().map(Watch::remaining).sum();
    eprintln!(
        "waiting for fan-out: {} posts into {total} timelines",
        watches.len()
    );
    loop {
        if wait_all(redis, &mut watches, Duration::from_secs(1))
            .await?
            .is_some()
        {
            return Ok(started.elapsed());
        }
        let listed: HashSet<String> = redis
            .smembers(keys::CELEBRITIES)
            .await
            .context("reading the celebrities set")?;
        let mismatched = watched
            .iter()
            .zip(&watches)
            .filter(|(author, watch)| {
                !watch.done() && listed.contains(&social.ids[**author as usize].to_string())
            })
            .count();
        if mismatched > 0 {
            bail!(
                "fanout-service treats {mismatched} authors as celebrities that have at most \
                 --celebrity-threshold followers: pass its FEEDLINE_CELEBRITY_THRESHOLD"
            );
        }
        if started.elapsed() > SETUP_FANOUT_LIMIT {
            let left: usize = watches.iter().map(Watch::remaining).sum();
            bail!(
                "fan-out did not place the posts written before the load within {}s \
                 ({left} of {total} timelines still without them): is fanout-service \
                 behind, or post-service's relay not pointed at it?",
                SETUP_FANOUT_LIMIT.as_secs()
            );
        }
    }
}
