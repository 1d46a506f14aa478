//! The `celebrities` set, kept for a short while in memory: every read needs it, it changes only
//! when an author crosses the follower threshold, and one SMEMBERS per read cost a Redis
//! command and a round trip on the hottest path.
//!
//! Staleness is bounded by the refresh interval: an author listed just now is pulled by readers
//! at most that much later. Their posts reach nobody's `tl:` from the moment they are listed, so
//! for that long a new celebrity's new posts are missing from feeds, within the delivery target
//! (a post visible within 1 s). A rebuild reads the set fresh instead (`Feed::rebuild`): what it
//! writes stays, so it must not copy a celebrity's posts into a timeline as fanned out.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use feedline_redis::timeline::{self, Read};
use fred::clients::Client;
use fred::types::Value;

use crate::error::FeedError;

/// The last `celebrities` read, shared by every clone of the feed.
#[derive(Debug)]
pub(super) struct Celebrities {
    refresh: Duration,
    last: RwLock<Option<(Instant, Arc<[i64]>)>>,
}

impl Celebrities {
    /// Re-reads the set once the last read is older than `refresh` (zero: on every call).
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            last: RwLock::new(None),
        }
    }

    /// Every listed author, at most `refresh` old.
    pub async fn get(&self, redis: &Client) -> Result<Arc<[i64]>, FeedError> {
        if let Some(fresh) = self.cached(Instant::now()) {
            return Ok(fresh);
        }
        // Concurrent readers that find it stale together each read it once: cheaper than
        // making them wait on one another, and it happens once per interval.
        let read = Self::read(redis).await?;
        if let Ok(mut last) = self.last.write() {
            *last = Some((Instant::now(), read.clone()));
        }
        Ok(read)
    }

    /// The set as Redis holds it now.
    pub async fn read(redis: &Client) -> Result<Arc<[i64]>, FeedError> {
        let reply: Value = timeline::read(redis, Read::Celebrities).await?;
        Ok(timeline::celebrity_ids(reply)?.into())
    }

    fn cached(&self, now: Instant) -> Option<Arc<[i64]>> {
        let last = self.last.read().ok()?;
        let (at, set) = last.as_ref()?;
        (now.saturating_duration_since(*at) < self.refresh).then(|| set.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_kept_for_the_refresh_interval_only() {
        let cache = Celebrities::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(cache.cached(t0).is_none(), "nothing read yet");
        *cache.last.write().unwrap() = Some((t0, Arc::from(vec![7_i64])));
        assert_eq!(
            cache.cached(t0 + Duration::from_millis(999)).as_deref(),
            Some(&[7][..])
        );
        assert!(cache.cached(t0 + Duration::from_secs(1)).is_none());
        let never = Celebrities::new(Duration::ZERO);
        *never.last.write().unwrap() = Some((t0, Arc::from(vec![7_i64])));
        assert!(
            never.cached(t0).is_none(),
            "a zero interval reads every time"
        );
    }
}
