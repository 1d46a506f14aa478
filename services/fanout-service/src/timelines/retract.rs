//! RetractPost: tombstone the cached post, then move it from the author's list to the author's
//! recent deletions and take it out of every follower's timeline.

use feedline_proto::fanout::v1::RetractPost;
use fred::interfaces::{KeysInterface as _, SetsInterface as _, SortedSetsInterface as _};
use fred::types::Value;

use super::index::{parse_ids, sentinel_present};
use super::pipeline::{KeyWrites, Op};
use feedline_redis::keys;

use super::{Applied, TimelineError, Timelines};

impl Timelines {
    /// Applies a RetractPost. Followers of a celebrity are included: the post may have been
    /// fanned out before its author crossed the threshold.
    #[tracing::instrument(skip_all, fields(post_id = event.post_id))]
    pub(super) async fn retract(&self, event: &RetractPost) -> Result<Applied, TimelineError> {
        if event.post_id <= 0 || event.author_id <= 0 {
            let why = "retract_post: post_id and author_id must be positive";
            return Err(TimelineError::Malformed(why.into()));
        }
        let author = event.author_id;
        let member = keys::member(event.post_id);
        let mut applied = Applied::default();
        // First and on its own: readers hydrate through pc:, so they stop showing the post as
        // soon as this lands, before the slower timeline removals.
        self.tombstone(event.post_id).await?;
        applied.commands += 1;

        let pipeline = self.inner.redis.pipeline();
        let () = pipeline.zrem(keys::author_posts(author), &member).await?;
        // Remembered for a later (or replayed) unfollow: see `keys::author_retracted`.
        let retracted = keys::author_retracted(author);
        let () = pipeline
            .zadd(&retracted, None, None, false, false, (0.0, member.as_str()))
            .await?;
        let () = pipeline
            .zremrangebyrank(&retracted, 0, -(self.retracted_cap() + 1))
            .await?;
        let () = pipeline
            .sismember(keys::followers(author), keys::SENTINEL)
            .await?;
        let () = pipeline.smembers(keys::followers(author)).await?;
        let mut replies: Vec<Value> = pipeline.all().await?;
        applied.commands += 5;
        let members: Vec<String> = replies.pop().unwrap_or(Value::Null).convert()?;
        let built = replies.pop().is_some_and(|reply| sentinel_present(&reply));
        let followers = if built {
            parse_ids(&members)
        } else {
            self.rebuild_followers(author, &mut applied).await?
        };

        let writes = followers
            .iter()
            .map(|&follower| KeyWrites {
                key: keys::timeline(follower),
                ops: vec![Op::Zrem(vec![member.clone()])],
            })
            .collect();
        self.write_timelines(writes, &mut applied).await?;
        Ok(applied)
    }

    /// How many deletions `ar:{A}` keeps: as many as a timeline holds entries.
    pub(super) fn retracted_cap(&self) -> i64 {
        i64::try_from(self.inner.config.timeline_cap).unwrap_or(i64::MAX)
    }

    /// `SET pc:{P} "" EX ttl`, overwriting the cached post: the empty string means deleted.
    async fn tombstone(&self, post_id: i64) -> Result<(), TimelineError> {
        let () = self
            .inner
            .redis
            .set(
                keys::post_cache(post_id),
                "",
                Some(self.cache_expiration()),
                None,
                false,
            )
            .await?;
        Ok(())
    }
}
