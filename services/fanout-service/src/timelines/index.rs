//! The per-author lists every event relies on: `ap:{A}` (own posts) and `fl:{A}` (follower
//! index), their rebuild from the [`super::GraphSource`] when Redis lacks them, and the
//! celebrity list. What is written is `feedline_redis::timeline`'s: the sentinel goes last, so
//! a rebuild cut short is rebuilt again, never trusted.

use feedline_redis::keys::{Entry, entry_of};
use feedline_redis::timeline::{self, KeyWrites, Rules};

use super::pipeline::send_per_node;
use super::{Applied, TimelineError, Timelines};

impl Timelines {
    /// The trim and TTL every write here obeys.
    pub(super) fn rules(&self) -> &Rules {
        &self.inner.rules
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
        let write = self.rules().rebuilt_author_posts(author, &entries);
        self.send_writes(vec![write], applied).await?;
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
        let write = timeline::rebuilt_followers(author, &followers);
        self.send_writes(vec![write], applied).await?;
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
        timeline::queue_all(&self.inner.redis, vec![timeline::celebrity(author)]).await?;
        applied.commands += 1;
        Ok(())
    }

    /// Sends `writes` (not home timelines) per node, each key's ops in order, and counts them.
    pub(super) async fn send_writes(
        &self,
        writes: Vec<KeyWrites>,
        applied: &mut Applied,
    ) -> Result<(), TimelineError> {
        let sent = send_per_node(&self.inner.redis, writes, self.inner.config.max_pipeline).await?;
        applied.commands += sent.commands;
        Ok(())
    }
}
