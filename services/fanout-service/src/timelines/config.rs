//! Tunables of the timeline writes: caps, the celebrity threshold, backfill and batching sizes,
//! the optional wait for replicas.

use std::time::Duration;

use super::ReplicationWait;

/// How timelines are shaped and written. The defaults are the production values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineConfig {
    /// Entries a home timeline (and an author's post list) keeps; Twitter's figure is 800.
    pub timeline_cap: usize,
    /// Authors with more followers than this are not fanned out: readers pull their posts.
    pub celebrity_threshold: usize,
    /// How many of the followee's newest posts a new follow copies into the follower's timeline.
    pub backfill_posts: usize,
    /// Lifetime of a cached post (and of a deleted post's tombstone) under `pc:{P}`.
    pub post_cache_ttl: Duration,
    /// A timeline is trimmed on about 1 in `trim_every` inserts (0 is read as 1: every insert).
    pub trim_every: u64,
    /// Commands per pipeline at most; a node with more gets several pipelines.
    pub max_pipeline: usize,
    /// The durability step: `WAIT` for replicas before an event counts as applied (off: 0).
    pub replication: ReplicationWait,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self {
            timeline_cap: feedline_redis::DEFAULT_TIMELINE_CAP,
            celebrity_threshold: 10_000,
            backfill_posts: 200,
            post_cache_ttl: feedline_redis::DEFAULT_POST_CACHE_TTL,
            trim_every: 16,
            max_pipeline: 1000,
            replication: ReplicationWait {
                replicas: 0,
                timeout: Duration::from_millis(100),
            },
        }
    }
}
