//! The numbers every timeline write obeys: how many entries a list keeps (the trim rule) and
//! how long a cached post or a tombstone lives (the TTL).

use std::time::Duration;

use fred::types::Expiration;

/// Cap and TTL, the same on both sides of the timelines (`crate::TimelineEnv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Entries a `tl:` or `ap:` keeps besides its sentinel, and deletions an `ar:` keeps.
    pub cap: usize,
    /// Lifetime of a `pc:` key, cached post and tombstone alike.
    pub post_cache_ttl: Duration,
}

impl Rules {
    /// The rules of a `cap` and a post-cache TTL.
    pub fn new(cap: usize, post_cache_ttl: Duration) -> Self {
        Self {
            cap,
            post_cache_ttl,
        }
    }

    /// The ZREMRANGEBYRANK bounds that keep a `tl:` or `ap:` near the cap: ranks 1 to
    /// len-cap-1 go, which leaves rank 0 (the sentinel, score 0, member "0") and the `cap`
    /// newest (a list without a sentinel keeps its oldest entry too, which is harmless).
    pub fn trim_ranks(&self) -> (i64, i64) {
        (1, -(self.cap_i64() + 1))
    }

    /// The ZREMRANGEBYRANK bounds that keep the `cap` newest deletions of an `ar:` (no
    /// sentinel there: its members are all scored 0, so rank order is id order).
    pub fn retracted_trim_ranks(&self) -> (i64, i64) {
        (0, -(self.cap_i64() + 1))
    }

    /// EX of `pc:` keys, posts and tombstones alike, in seconds (at least 1: Redis rejects
    /// EX 0).
    pub fn cache_ex_secs(&self) -> i64 {
        let ttl = self.post_cache_ttl.as_secs();
        i64::try_from(ttl).unwrap_or(i64::MAX).max(1)
    }

    /// [`Self::cache_ex_secs`] as fred's expiration.
    pub fn cache_expiration(&self) -> Expiration {
        Expiration::EX(self.cache_ex_secs())
    }

    /// The cap as a rank offset (no real cap comes near i64::MAX).
    fn cap_i64(&self) -> i64 {
        i64::try_from(self.cap).unwrap_or(i64::MAX / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_spare_the_sentinel_and_keep_the_cap() {
        let rules = Rules::new(800, Duration::from_secs(60));
        assert_eq!(rules.trim_ranks(), (1, -801));
        assert_eq!(rules.retracted_trim_ranks(), (0, -801));
        assert_eq!(rules.cache_ex_secs(), 60);
        assert_eq!(Rules::new(800, Duration::ZERO).cache_ex_secs(), 1);
    }
}
