//! The per-author lists every event relies on: `ap:{A}` (own posts) and `fl:{A}` (follower
//! index), and their rebuild from the [`super::GraphSource`] when Redis lacks them.
//!
//! "Built" means the sentinel is present, not that the key exists: a rebuild writes its
//! members first and the sentinel last, so one cut short is rebuilt again, never trusted.

use feedline_redis::keys::{self, Entry, entry_of};
use fred::interfaces::SetsInterface as _;
use fred::types::{Expiration, Value};

use super::pipeline::{KeyWrites, Op, send_per_node, zadd};
use super::{Applied, TimelineError, Timelines};

/// Follower ids per SADD when rebuilding an index.
const SADD_CHUNK: usize = 1000;

impl Timelines {
    /// Keeps a timeline or an author's list near the cap: drops everything below the `cap`
    /// newest, sparing the sentinel at rank 0 (a list without one keeps its oldest entry too,
    /// which is harmless).
    pub(super) fn list_trim(&self) -> Op {
        let (start, stop) = self.author_posts_trim_ranks();
        Op::ZremRangeByRank(start, stop)
    }

    /// The ZREMRANGEBYRANK bounds of [`Self::list_trim`]: ranks 1 to len-cap-1 go, which
    /// leaves rank 0 (the sentinel) and the `cap` highest.
    pub(super) fn author_posts_trim_ranks(&self) -> (i64, i64) {
        (1, -(cap_i64(self.inner.config.timeline_cap) + 1))
    }

    /// EX of `pc:` keys, posts and tombstones alike (at least 1 s: Redis rejects EX 0).
    pub(super) fn cache_expiration(&self) -> Expiration {
        let ttl = self.inner.config.post_cache_ttl.as_secs();
        Expiration::EX(i64::try_from(ttl).unwrap_or(i64::MAX).max(1))
    }

    /// Rebuilds `ap:{author}` from the source's newest `cap` posts; returns them newest first.
    #[tracing::instrument(skip(self, applied))]
    pub(super) async fn rebuild_author_posts(
        &self,
        author: i64,
        applied: &mut Applied,
    ) -> Result<Vec<Entry>, TimelineError> {
        let cap = self.inner.config.timeline_cap;
        let posts = self.inner.source.latest_posts(author, cap).await?;
        // A post without a valid time cannot be scored; the source never sends one.
        let entries: Vec<Entry> = posts.iter().filter_map(entry_of).collect();
        let mut ops = Vec::new();
        if !entries.is_empty() {
            ops.push(zadd(&entries));
        }
        ops.push(zadd(&[(0.0, keys::SENTINEL.to_owned())]));
        ops.push(self.list_trim());
        self.send_one_key(keys::author_posts(author), ops, applied)
            .await?;
        tracing::debug!(author, posts = entries.len(), "rebuilt author posts");
        Ok(entries)
    }

    /// Rebuilds `fl:{author}` from the source; returns the follower ids.
    #[tracing::instrument(skip(self, applied))]
    pub(super) async fn rebuild_followers(
        &self,
        author: i64,
        applied: &mut Applied,
    ) -> Result<Vec<i64>, TimelineError> {
        let followers = self.inner.source.followers(author).await?;
        let mut ops: Vec<Op> = followers
            .chunks(SADD_CHUNK)
            .map(|ids| Op::Sadd(ids.iter().map(ToString::to_string).collect()))
            .collect();
        ops.push(Op::Sadd(vec![keys::SENTINEL.to_owned()]));
        self.send_one_key(keys::followers(author), ops, applied)
            .await?;
        tracing::debug!(
            author,
            followers = followers.len(),
            "rebuilt follower index"
        );
        Ok(followers)
    }

    /// Adds `author` to the celebrity list readers pull from (idempotent).
    pub(super) async fn mark_celebrity(
        &self,
        author: i64,
        applied: &mut Applied,
    ) -> Result<(), TimelineError> {
        let () = self
            .inner
            .redis
            .sadd(keys::CELEBRITIES, author.to_string())
            .await?;
        applied.commands += 1;
        Ok(())
    }

    /// Sends `ops` on one key in one pipeline, in order.
    async fn send_one_key(
        &self,
        key: String,
        ops: Vec<Op>,
        applied: &mut Applied,
    ) -> Result<(), TimelineError> {
        let writes = vec![KeyWrites { key, ops }];
        let sent = send_per_node(&self.inner.redis, writes, self.inner.config.max_pipeline).await?;
        applied.commands += sent.commands;
        Ok(())
    }
}

/// Follower ids from `fl:` members, without the sentinel.
pub(super) fn parse_ids(members: &[String]) -> Vec<i64> {
    members
        .iter()
        .filter(|m| m.as_str() != keys::SENTINEL)
        .filter_map(|m| m.parse().ok())
        .collect()
}

/// Whether a ZSCORE / SISMEMBER reply says the sentinel is there.
pub(super) fn sentinel_present(reply: &Value) -> bool {
    match reply {
        Value::Null => false,
        Value::Integer(n) => *n != 0,
        Value::Boolean(b) => *b,
        // A ZSCORE answer: the sentinel's score.
        _ => true,
    }
}

/// The cap as a rank offset (no real cap comes near i64::MAX).
fn cap_i64(cap: usize) -> i64 {
    i64::try_from(cap).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sentinel_replies() {
        assert!(!sentinel_present(&Value::Null));
        assert!(!sentinel_present(&Value::Integer(0)));
        assert!(sentinel_present(&Value::Integer(1)));
        assert!(sentinel_present(&Value::Double(0.0)));
        assert!(sentinel_present(&Value::String("0".into())));
    }

    #[test]
    fn skips_the_sentinel_in_follower_ids() {
        let members = ["0", "12", "7"].map(String::from);
        assert_eq!(parse_ids(&members), vec![12, 7]);
    }
}
