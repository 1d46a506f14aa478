//! RetractPost: tombstone the cached post, then move it from the author's list to the author's
//! recent deletions and take it out of every follower's timeline.

use feedline_proto::fanout::v1::RetractPost;
use feedline_redis::keys;
use feedline_redis::timeline::{self, Read, queue_all, read};
use fred::types::Value;

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
        let tombstone = self.rules().tombstone(event.post_id);
        queue_all(&self.inner.redis, vec![tombstone]).await?;
        applied.commands += 1;

        let pipeline = self.inner.redis.pipeline();
        // Out of `ap:`, and remembered for a later (or replayed) unfollow in `ar:`: see
        // `keys::author_retracted`.
        let moved = vec![
            timeline::unlist_post(author, &member),
            self.rules().retracted(author, &member),
        ];
        queue_all(&pipeline, moved).await?;
        read::<_, ()>(&pipeline, Read::FollowersBuilt(author)).await?;
        read::<_, ()>(&pipeline, Read::Followers(author)).await?;
        let mut replies: Vec<Value> = self.replies(pipeline).await?;
        applied.commands += 5;
        let members = replies.pop().unwrap_or(Value::Null);
        let built = replies.pop().is_some_and(|reply| timeline::built(&reply));
        let followers = if built {
            timeline::follower_ids(members)?
        } else {
            self.rebuild_followers(author, &mut applied).await?
        };

        let writes = followers
            .iter()
            .map(|&follower| timeline::unfan(follower, vec![member.clone()]))
            .collect();
        self.write_timelines(writes, &mut applied).await?;
        Ok(applied)
    }
}
