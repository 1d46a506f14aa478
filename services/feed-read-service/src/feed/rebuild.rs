//! A timeline found without its sentinel (never built, evicted, its node replaced) is rebuilt
//! from post-service: the newest posts of the user's followees, up to the cap.

use feedline_proto::prost::Message as _;
use feedline_redis::keys;
use fred::bytes::Bytes;
use fred::interfaces::{KeysInterface as _, SortedSetsInterface as _};
use fred::types::{SetOptions, Value};

use super::Feed;
use crate::error::FeedError;

impl Feed {
    /// Writes the newest `timeline_cap` posts of `user`'s followees into `tl:{user}` with the
    /// sentinel, trims it, and caches the posts. Err(UserNotFound) for an unknown user.
    ///
    /// Posts of the `celebrities` are left out, as fan-out leaves them out: reads pull them.
    /// A celebrity not listed (the list was flushed too) is included, and the merge drops the
    /// copies it pulls once the list is back. Concurrent fan-out writes commute with this one
    /// (distinct members, union); a retract racing it may leave its post in the timeline, but
    /// the tombstone, written first, keeps the post from being returned.
    #[tracing::instrument(skip(self, celebrities))]
    pub(super) async fn rebuild(&self, user: i64, celebrities: &[i64]) -> Result<(), FeedError> {
        let cap = self.config.timeline_cap;
        let mut posts = self.source.followee_posts(user, cap).await?;
        posts.retain(|post| !celebrities.contains(&post.author_id));
        let mut entries: Vec<(f64, String)> = posts.iter().filter_map(keys::entry_of).collect();
        entries.push((0.0, keys::SENTINEL.to_owned()));
        let key = keys::timeline(user);
        let pipeline = self.redis.pipeline();
        // One ZADD: the sentinel never lands without the entries.
        let () = pipeline
            .zadd(&key, None, None, false, false, entries)
            .await?;
        // Fan-out may have added entries before the rebuild; keep the cap, spare the sentinel.
        let stop = -(i64::try_from(cap).unwrap_or(i64::MAX / 2) + 1);
        let () = pipeline.zremrangebyrank(&key, 1, stop).await?;
        for post in &posts {
            let () = pipeline
                .set(
                    keys::post_cache(post.post_id),
                    Bytes::from(post.encode_to_vec()),
                    Some(self.cache_expiration()),
                    Some(SetOptions::NX),
                    false,
                )
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
        tracing::debug!(user, posts = posts.len(), "rebuilt timeline");
        Ok(())
    }
}
