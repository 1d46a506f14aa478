//! Watching for posts to reach every follower's timeline, straight in the Redis Cluster:
//! pipelined `ZSCORE tl:{follower} <member>` (fred sends each command to its node). A watch
//! first probes one follower, and asks for all the others only once that one has the post, so
//! a post still waiting in a backlog costs one command per round, not one per follower.
//!
//! Rounds are spaced by [`pause`]: 10 ms, or longer when a round sent many commands, so the
//! watching stays under about 20,000 commands/s and does not slow down the fan-out it
//! measures (the measurement's resolution is that pause).

use anyhow::Result;
use feedline_redis::keys;
use fred::prelude::{Client, SortedSetsInterface as _};
use fred::types::Value;
use std::time::Duration;

use tokio::time::Instant;

/// Commands per pipeline at most.
const PIPELINE: usize = 10_000;
/// Pipelines of one round in flight at once.
const IN_FLIGHT: usize = 4;
/// The shortest pause between rounds.
pub const POLL: Duration = Duration::from_millis(10);
/// The pause per command of the last round: 50 µs, so at most 20,000 commands/s.
const PER_COMMAND: Duration = Duration::from_micros(50);

/// How long to wait after a round that sent `commands`.
pub fn pause(commands: usize) -> Duration {
    POLL.max(PER_COMMAND * u32::try_from(commands).unwrap_or(u32::MAX))
}

/// One post and the followers whose timelines do not show it yet.
#[derive(Clone, Debug)]
pub struct Watch {
    member: String,
    remaining: Vec<i64>,
    probing: bool,
    /// When the last follower was seen holding it; None while some are missing.
    pub seen_at: Option<Instant>,
}

impl Watch {
    /// Waits for `post_id` in the timelines of `followers`.
    pub fn new(post_id: i64, followers: Vec<i64>) -> Self {
        let seen_at = followers.is_empty().then(Instant::now);
        Self {
            member: keys::member(post_id),
            remaining: followers,
            probing: true,
            seen_at,
        }
    }

    /// Whether every follower has it.
    pub fn done(&self) -> bool {
        self.seen_at.is_some()
    }

    /// Followers still without it.
    pub fn remaining(&self) -> usize {
        self.remaining.len()
    }
}

/// One round over `watches`: probes, then the whole remainder of each watch whose probe hit.
/// Returns the commands sent.
pub async fn poll(redis: &Client, watches: &mut [Watch]) -> Result<usize> {
    let mut switched = Vec::new();
    let mut queries = Vec::new();
    for (w, watch) in watches.iter().enumerate() {
        if watch.done() {
            continue;
        }
        if watch.probing {
            // The last follower: the one a per-node fan-out pipeline reaches last, if any.
            if let Some(&follower) = watch.remaining.last() {
                queries.push((w, follower));
            }
        } else {
            queries.extend(watch.remaining.iter().map(|&f| (w, f)));
        }
    }
    let hits = zscores(redis, watches, &queries).await?;
    apply(watches, &queries, &hits, Some(&mut switched));
    let mut sent = queries.len();
    if switched.is_empty() {
        return Ok(sent);
    }
    let queries: Vec<(usize, i64)> = switched
        .iter()
        .flat_map(|&w| watches[w].remaining.iter().map(move |&f| (w, f)))
        .collect();
    let hits = zscores(redis, watches, &queries).await?;
    apply(watches, &queries, &hits, None);
    sent += queries.len();
    Ok(sent)
}

/// Removes the followers that hit; marks the watches with none left; collects the watches
/// whose probe hit into `switched`.
fn apply(
    watches: &mut [Watch],
    queries: &[(usize, i64)],
    hits: &[bool],
    mut switched: Option<&mut Vec<usize>>,
) {
    let now = Instant::now();
    for (&(w, follower), &hit) in queries.iter().zip(hits) {
        if !hit {
            continue;
        }
        let watch = &mut watches[w];
        watch.remaining.retain(|&f| f != follower);
        if watch.probing {
            watch.probing = false;
            if let Some(switched) = switched.as_deref_mut() {
                switched.push(w);
            }
        }
    }
    for watch in watches.iter_mut() {
        if watch.seen_at.is_none() && watch.remaining.is_empty() {
            watch.seen_at = Some(now);
        }
    }
}

/// Whether each `(watch, follower)` timeline holds the watch's post.
async fn zscores(redis: &Client, watches: &[Watch], queries: &[(usize, i64)]) -> Result<Vec<bool>> {
    let mut hits = Vec::with_capacity(queries.len());
    // A few pipelines in flight at once, replies kept in query order.
    for round in queries.chunks(PIPELINE * IN_FLIGHT) {
        let pipelines = round
            .chunks(PIPELINE)
            .map(|chunk| zscore_pipeline(redis, watches, chunk));
        for chunk in futures::future::try_join_all(pipelines).await? {
            hits.extend(chunk);
        }
    }
    Ok(hits)
}

/// One pipeline of [`zscores`].
async fn zscore_pipeline(
    redis: &Client,
    watches: &[Watch],
    queries: &[(usize, i64)],
) -> Result<Vec<bool>> {
    let pipeline = redis.pipeline();
    for &(w, follower) in queries {
        let () = pipeline
            .zscore(keys::timeline(follower), watches[w].member.as_str())
            .await?;
    }
    let replies: Vec<Value> = pipeline.all().await?;
    Ok(replies.iter().map(|reply| !reply.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_keep_the_rate_bounded() {
        assert_eq!(pause(0), POLL);
        assert_eq!(pause(200), POLL);
        assert_eq!(pause(6000), Duration::from_millis(300));
    }
}
