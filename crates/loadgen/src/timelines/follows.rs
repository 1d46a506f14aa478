//! Follow events as fan-out applies them, seen in the Redis Cluster: applying a follow adds
//! the follower to the followee's index `fl:{author}` (a set, plus the sentinel once built).
//! Once an author's index is built (a first post of the author builds it), its cardinality
//! less the sentinel counts exactly the follow events applied for that author: nothing else
//! adds to a built index, and only a missing sentinel makes fan-out rebuild it from the
//! graph. So the scenarios build every author's index before the follows, then count.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Result, bail};
use feedline_redis::keys;
use fred::prelude::{Client, SetsInterface as _};
use fred::types::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::social::Social;

/// Indexes read per pipeline.
const PIPELINE: usize = 500;
/// Between two counts: 400 authors every 100 ms is 4,000 SCARDs/s, little beside fan-out.
const EVERY: Duration = Duration::from_millis(100);

/// Whether each author's index holds the sentinel.
async fn built(redis: &Client, authors: &[i64]) -> Result<Vec<bool>> {
    let mut out = Vec::with_capacity(authors.len());
    for chunk in authors.chunks(PIPELINE) {
        let pipeline = redis.pipeline();
        for &author in chunk {
            let () = pipeline
                .sismember(keys::followers(author), keys::SENTINEL)
                .await?;
        }
        let replies: Vec<bool> = pipeline.all().await?;
        out.extend(replies);
    }
    Ok(out)
}

/// The follow events applied so far for `authors`, whose indexes are built: the sum of their
/// cardinalities less one sentinel each.
pub async fn applied(redis: &Client, authors: &[i64]) -> Result<u64> {
    let mut total = 0u64;
    for chunk in authors.chunks(PIPELINE) {
        let pipeline = redis.pipeline();
        for &author in chunk {
            let () = pipeline.scard(keys::followers(author)).await?;
        }
        let replies: Vec<u64> = pipeline.all().await?;
        total += replies.iter().map(|n| n.saturating_sub(1)).sum::<u64>();
    }
    Ok(total)
}

/// Waits until every one of `authors` has a built index; fails after `limit`.
pub async fn wait_built(redis: &Client, authors: &[i64], limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let missing = built(redis, authors).await?.iter().filter(|b| !**b).count();
        if missing == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!(
                "{missing} of {} follower indexes not built within {}s after the authors' \
                 first posts: is fanout-service behind, or post-service's relay not pointed at it?",
                authors.len(),
                limit.as_secs()
            );
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Follow events applied over time.
#[derive(Clone, Debug, Default)]
pub struct AppliedSeries {
    /// (when, applied so far), one point per count that changed.
    pub points: Vec<(Instant, u64)>,
    /// When the count first reached the target; None if it did not within the limit.
    pub done_at: Option<Instant>,
}

impl AppliedSeries {
    /// Applied by the last count.
    pub fn last(&self) -> u64 {
        self.points.last().map_or(0, |p| p.1)
    }
}

/// Counts the follow events applied for `authors` every 100 ms until `target` are, `limit`
/// has passed or `stop` is cancelled (then after one last count).
pub fn watch(
    redis: Client,
    authors: Vec<i64>,
    target: u64,
    limit: Duration,
    stop: CancellationToken,
) -> JoinHandle<Result<AppliedSeries>> {
    tokio::spawn(async move {
        let end = Instant::now() + limit;
        let mut series = AppliedSeries::default();
        loop {
            let last_round = stop.is_cancelled() || Instant::now() >= end;
            let now = applied(&redis, &authors).await?;
            if series.points.last().is_none_or(|p| p.1 != now) {
                series.points.push((Instant::now(), now));
            }
            if now >= target {
                series.done_at = series.points.last().map(|p| p.0);
                return Ok(series);
            }
            if last_round {
                return Ok(series);
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                () = stop.cancelled() => {}
            }
        }
    })
}

/// What the followers check found.
#[derive(Clone, Debug, Default)]
pub struct FollowerCheck {
    /// Follows checked (every edge of the graph).
    pub edges: u64,
    /// Followers missing from their followee's index.
    pub missing: u64,
    /// Members of the indexes that are no planned follower (nor the sentinel).
    pub unexpected: u64,
    /// A few of them, to start looking from.
    pub examples: Vec<String>,
}

/// Every follower of every author of `social` must be in the author's index, and nobody else.
pub async fn check_followers(redis: &Client, social: &Social) -> Result<FollowerCheck> {
    let mut found = FollowerCheck::default();
    for chunk in social.authors.chunks(PIPELINE / 5) {
        let pipeline = redis.pipeline();
        for &author in chunk {
            let () = pipeline
                .smembers(keys::followers(social.ids[author as usize]))
                .await?;
        }
        let replies: Vec<Value> = pipeline.all().await?;
        for (&author, reply) in chunk.iter().zip(replies) {
            let members: HashSet<String> = reply.convert()?;
            let planned = social.follower_ids(author);
            let present = planned
                .iter()
                .filter(|f| members.contains(&f.to_string()))
                .count();
            let others = members.len() - present - usize::from(members.contains(keys::SENTINEL));
            found.unexpected += others as u64;
            for follower in planned {
                found.edges += 1;
                if !members.contains(&follower.to_string()) {
                    found.missing += 1;
                    if found.examples.len() < 3 {
                        let id = social.ids[author as usize];
                        found
                            .examples
                            .push(format!("user {follower} not in fl:{{{id}}}"));
                    }
                }
            }
        }
    }
    Ok(found)
}
