//! After the load: how long the backlog takes to drain, and whether every acknowledged post
//! that should be in a timeline is there.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use feedline_redis::keys;
use fred::prelude::{Client, SortedSetsInterface as _};
use fred::types::Value;
use tokio::time::Instant;

use super::posts::Acked;
use super::watch::{Watch, pause, poll};
use crate::social::Social;

/// Of each author, the posts acknowledged last whose arrival ends the drain. One author's
/// events apply in commit order, so its last post arriving means the others have; a few are
/// watched because the last answer need not be the last commit when calls overlap.
const DRAIN_LAST: usize = 3;
/// The longest pause between two rounds of [`wait_all`]: after a round of many commands, the
/// rate bound of [`pause`] would leave seconds between rounds, and the drain would be
/// measured at that resolution.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Timelines read per pipeline by the final check.
const CHECK_PIPELINE: usize = 100;

/// Waits until the last posts of every fanned-out author (`skip[i]` false) are in all its
/// followers' timelines; the time from `since`, or None after `limit`.
pub async fn drain(
    redis: &Client,
    social: &Social,
    by_author: &[Vec<Acked>],
    skip: &[bool],
    since: Instant,
    limit: Duration,
) -> Result<Option<Duration>> {
    let mut watches: Vec<Watch> = Vec::new();
    for (author, posts) in by_author.iter().enumerate() {
        if skip.get(author).copied().unwrap_or(true) {
            continue;
        }
        for post in posts.iter().rev().take(DRAIN_LAST) {
            watches.push(Watch::new(post.post_id, social.follower_ids(author as u32)));
        }
    }
    wait_all(redis, &mut watches, limit)
        .await
        .map(|seen| seen.map(|at| at.saturating_duration_since(since)))
}

/// Polls `watches` until all are done (then: when the last was seen) or `limit` has passed.
pub async fn wait_all(
    redis: &Client,
    watches: &mut [Watch],
    limit: Duration,
) -> Result<Option<Instant>> {
    let end = Instant::now() + limit;
    loop {
        let sent = poll(redis, watches).await?;
        if watches.iter().all(Watch::done) {
            // Nothing to watch (only celebrities posted) is drained at once.
            let last = watches.iter().filter_map(|w| w.seen_at).max();
            return Ok(Some(last.unwrap_or_else(Instant::now)));
        }
        if Instant::now() >= end {
            return Ok(None);
        }
        // The load is over: what is left to find is short, so poll it often.
        tokio::time::sleep(pause(sent).min(MAX_PAUSE)).await;
    }
}

/// What the final check found.
#[derive(Clone, Debug, Default)]
pub struct Completeness {
    /// Timelines (users following at least one fanned-out author) checked.
    pub timelines: u64,
    /// Entries expected in them.
    pub checked: u64,
    pub missing: u64,
    /// A few of the missing, to start looking from.
    pub examples: Vec<String>,
}

/// For every user, the newest `cap` posts (by creation ms, then id) of its followees that are
/// fanned out (`skip[i]` false) must be in its timeline; older ones may have been trimmed.
pub async fn completeness(
    redis: &Client,
    social: &Social,
    by_author: &[Vec<Acked>],
    skip: &[bool],
    cap: usize,
) -> Result<Completeness> {
    // Newest first; no user can need more than `cap` of any one author.
    let newest: Vec<Vec<Acked>> = by_author
        .iter()
        .map(|posts| {
            let mut posts = posts.clone();
            posts.sort_unstable_by_key(|p| std::cmp::Reverse((p.ms, p.post_id)));
            posts.truncate(cap);
            posts
        })
        .collect();
    // Users who follow the same authors expect the same posts: computed once per set.
    let mut expected_by_set: HashMap<Vec<u32>, Arc<Vec<Acked>>> = HashMap::new();
    let mut users: Vec<(u32, Arc<Vec<Acked>>)> = Vec::new();
    for (user, followees) in social.followees.iter().enumerate() {
        let mut set: Vec<u32> = followees
            .iter()
            .copied()
            .filter(|&a| !skip.get(a as usize).copied().unwrap_or(true))
            .collect();
        if set.is_empty() {
            continue;
        }
        set.sort_unstable();
        let expected = expected_by_set
            .entry(set)
            .or_insert_with_key(|set| {
                let mut posts: Vec<Acked> = set
                    .iter()
                    .flat_map(|&a| newest.get(a as usize).into_iter().flatten().copied())
                    .collect();
                posts.sort_unstable_by_key(|p| std::cmp::Reverse((p.ms, p.post_id)));
                posts.truncate(cap);
                Arc::new(posts)
            })
            .clone();
        users.push((user as u32, expected));
    }

    let mut found = Completeness::default();
    for chunk in users.chunks(CHECK_PIPELINE) {
        let pipeline = redis.pipeline();
        for (user, expected) in chunk {
            let key = keys::timeline(social.ids[*user as usize]);
            // Only what could be expected: a timeline filled to the cap with older entries
            // first (`raw::fill`) would otherwise be read whole.
            let oldest = expected.iter().map(|p| p.ms).min().unwrap_or(i64::MAX);
            let () = pipeline
                .zrangebyscore(key, oldest as f64, "+inf", false, None)
                .await?;
        }
        let replies: Vec<Value> = pipeline.all().await?;
        if replies.len() != chunk.len() {
            bail!(
                "the cluster answered {} of {} reads",
                replies.len(),
                chunk.len()
            );
        }
        for ((user, expected), reply) in chunk.iter().zip(replies) {
            let members: Vec<String> = reply.convert()?;
            let members: HashSet<String> = members.into_iter().collect();
            found.timelines += 1;
            for post in expected.iter() {
                found.checked += 1;
                if !members.contains(&keys::member(post.post_id)) {
                    found.missing += 1;
                    if found.examples.len() < 3 {
                        let id = social.ids[*user as usize];
                        let author = social.ids[post.author as usize];
                        found.examples.push(format!(
                            "post {} of user {author} not in tl:{{{id}}}",
                            post.post_id
                        ));
                    }
                }
            }
        }
    }
    Ok(found)
}
