//! The per-author lists every event relies on: `ap:{A}` (own posts) and `fl:{A}` (follower
//! index), their rebuild from the [`super::GraphSource`] when Redis lacks them, and the
//! celebrity list. What is written is `feedline_redis::timeline`'s: the sentinel goes last, so
//! a rebuild cut short is rebuilt again, never trusted.

use feedline_redis::keys::{Entry, entry_of};
use feedline_redis::timeline::{self, KeyWrites, Rules};

use super::pipeline::send_per_node;
use super::{Applied, TimelineError, Timelines};

/// An author's lists as [`Timelines::rebuild_author`] rebuilt them.
pub(super) struct Rebuilt {
    /// Its newest posts, newest first.
    pub posts: Vec<Entry>,
    /// Its followers, read after the posts.
    pub followers: Vec<i64>,
}

impl Timelines {
    /// The trim and TTL every write here obeys.
    pub(super) fn rules(&self) -> &Rules {
        &self.inner.rules
    }

    /// Rebuilds `ap:{author}` from the source's newest `cap` posts, then refreshes `fl:{author}`
    /// from the source: the one way `ap:` is rebuilt.
    ///
    /// The source runs ahead of the event stream: the posts it lists may include some whose
    /// delivery is still on its way, created when the author had more followers than the index
    /// has seen applied. Reading the followers after the posts makes the index at least as new
    /// as every post the rebuild lists, so a backfill never copies a post that its own delivery
    /// would have left to readers to pull (the celebrity rule).
    #[tracing::instrument(skip(self, applied))]
    pub(super) async fn rebuild_author(
        &self,
        author: i64,
        applied: &mut Applied,
    ) -> Result<Rebuilt, TimelineError> {
        let cap = self.inner.config.timeline_cap;
        let posts = self.inner.source.latest_posts(author, cap).await?;
        // A post without a valid time cannot be scored; the source never sends one.
        let entries: Vec<Entry> = posts.iter().filter_map(entry_of).collect();
        let write = self.rules().rebuilt_author_posts(author, &entries);
        self.send_writes(vec![write], applied).await?;
        tracing::debug!(author, posts = entries.len(), "rebuilt author posts");
        let followers = self.rebuild_followers(author, applied).await?;
        Ok(Rebuilt {
            posts: entries,
            followers,
        })
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
