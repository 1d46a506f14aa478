//! A timeline found without its sentinel (never built, evicted, its node replaced) is rebuilt
//! from post-service: the newest posts of the user's followees, up to the cap.

use feedline_redis::keys;
use feedline_redis::timeline::queue_all;
use fred::types::Value;

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
        let entries: Vec<(f64, String)> = posts.iter().filter_map(keys::entry_of).collect();
        let mut writes = Vec::with_capacity(1 + posts.len());
        writes.push(self.rules.rebuilt_timeline(user, &entries));
        writes.extend(posts.iter().map(|post| self.rules.cache_post(post)));
        let pipeline = self.redis.pipeline();
        queue_all(&pipeline, writes).await?;
        let _: Vec<Value> = pipeline.all().await?;
        tracing::debug!(user, posts = posts.len(), "rebuilt timeline");
        Ok(())
    }
}
