//! AddFollow and RemoveFollow: keep the follower index in step with the graph, and copy the
//! followee's newest posts into (or take all of them out of) the follower's timeline.

use feedline_proto::fanout::v1::{AddFollow, RemoveFollow};
use fred::interfaces::{SetsInterface as _, SortedSetsInterface as _};
use fred::types::Value;

use feedline_redis::keys::Entry;

use super::index::sentinel_present;
use super::pipeline::{KeyWrites, Op, send_per_node};
use feedline_redis::keys;

use super::{Applied, TimelineError, Timelines};

impl Timelines {
    /// Applies an AddFollow: index the edge, backfill the followee's newest posts created up to
    /// the follow's commit (`committed_ms`). Later posts reach the follower through their own
    /// deliveries, which alone decide (celebrity or not) whether they go into timelines; a list
    /// rebuilt from post-service may already hold them.
    #[tracing::instrument(skip_all, fields(follower = event.follower_id, followee = event.followee_id))]
    pub(super) async fn add_follow(
        &self,
        event: &AddFollow,
        committed_ms: Option<i64>,
    ) -> Result<Applied, TimelineError> {
        let (follower, followee) = validate("add_follow", event.follower_id, event.followee_id)?;
        let backfill = self.inner.config.backfill_posts;
        let mut applied = Applied::default();
        let pipeline = self.inner.redis.pipeline();
        // Into an unbuilt index too: harmless, since its rebuild lists this committed edge.
        let () = pipeline
            .sadd(keys::followers(followee), follower.to_string())
            .await?;
        let () = pipeline
            .sismember(keys::followers(followee), keys::SENTINEL)
            .await?;
        let () = pipeline
            .zscore(keys::author_posts(followee), keys::SENTINEL)
            .await?;
        let () = pipeline.scard(keys::followers(followee)).await?;
        // Ranks 0..-1 would mean "all": with no backfill, ask for nothing instead.
        if backfill > 0 {
            let stop = i64::try_from(backfill).unwrap_or(i64::MAX) - 1;
            let () = pipeline
                .zrevrange(keys::author_posts(followee), 0, stop, true)
                .await?;
        }
        let replies: Vec<Value> = pipeline.all().await?;
        applied.commands += 4 + usize::from(backfill > 0);
        let mut replies = replies.into_iter();
        let _added = replies.next();
        let followers_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let posts_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let cardinality: i64 = replies.next().map_or(Ok(0), Value::convert)?;
        let newest = replies.next().unwrap_or(Value::Null);

        let followers = if followers_built {
            usize::try_from(cardinality - 1).unwrap_or(0) // less the sentinel
        } else {
            self.rebuild_followers(followee, &mut applied).await?.len()
        };
        // A celebrity's posts are pulled at read time from `ap:`, never copied into timelines:
        // a backfill would put into a follower's timeline what a delivery never would.
        // Listed, so the new follower's reads pull the followee's posts (even before the
        // followee's next post marks them).
        if followers > self.inner.config.celebrity_threshold {
            self.mark_celebrity(followee, &mut applied).await?;
            return Ok(applied);
        }
        let mut entries: Vec<Entry> = if posts_built {
            let pairs: Vec<(String, f64)> = newest.convert()?;
            pairs
                .into_iter()
                .map(|(member, score)| (score, member))
                .collect()
        } else {
            self.rebuild_author_posts(followee, &mut applied).await?
        };
        entries.retain(|(score, member)| {
            member != keys::SENTINEL && committed_ms.is_none_or(|at| *score <= at as f64)
        });
        entries.truncate(backfill);
        if entries.is_empty() {
            return Ok(applied);
        }
        // Always trimmed: a follow is rare, and a backfill can add up to `backfill` at once.
        let write = KeyWrites {
            key: keys::timeline(follower),
            ops: vec![Op::Zadd(entries), self.list_trim()],
        };
        self.write_timeline(write, &mut applied).await?;
        Ok(applied)
    }

    /// Applies a RemoveFollow: unindex the edge, remove every post of the followee's list from
    /// the follower's timeline.
    #[tracing::instrument(skip_all, fields(follower = event.follower_id, followee = event.followee_id))]
    pub(super) async fn remove_follow(
        &self,
        event: &RemoveFollow,
    ) -> Result<Applied, TimelineError> {
        let (follower, followee) = validate("remove_follow", event.follower_id, event.followee_id)?;
        let mut applied = Applied::default();
        let pipeline = self.inner.redis.pipeline();
        let () = pipeline
            .srem(keys::followers(followee), follower.to_string())
            .await?;
        let () = pipeline
            .sismember(keys::followers(followee), keys::SENTINEL)
            .await?;
        let () = pipeline
            .zscore(keys::author_posts(followee), keys::SENTINEL)
            .await?;
        let () = pipeline
            .zrange(
                keys::author_posts(followee),
                0,
                -1,
                None,
                false,
                None,
                false,
            )
            .await?;
        let replies: Vec<Value> = pipeline.all().await?;
        applied.commands += 4;
        let mut replies = replies.into_iter();
        let _removed = replies.next();
        let followers_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let posts_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let all_posts = replies.next().unwrap_or(Value::Null);

        if !followers_built {
            // The edge is already gone at the source, so the rebuilt index leaves it out.
            self.rebuild_followers(followee, &mut applied).await?;
        }
        let mut members: Vec<String> = if posts_built {
            all_posts.convert()?
        } else {
            let entries = self.rebuild_author_posts(followee, &mut applied).await?;
            entries.into_iter().map(|(_, member)| member).collect()
        };
        members.retain(|member| member != keys::SENTINEL);
        if members.is_empty() {
            return Ok(applied);
        }
        let write = KeyWrites {
            key: keys::timeline(follower),
            ops: vec![Op::Zrem(members)],
        };
        self.write_timeline(write, &mut applied).await?;
        Ok(applied)
    }

    /// Sends the writes to one follower's timeline and counts them.
    async fn write_timeline(
        &self,
        write: KeyWrites,
        applied: &mut Applied,
    ) -> Result<(), TimelineError> {
        let max = self.inner.config.max_pipeline;
        let sent = send_per_node(&self.inner.redis, vec![write], max).await?;
        applied.recipients = 1;
        applied.commands += sent.commands;
        applied.pipelines += sent.pipelines;
        Ok(())
    }
}

/// The (follower, followee) pair, or why the event can never apply.
fn validate(kind: &str, follower: i64, followee: i64) -> Result<(i64, i64), TimelineError> {
    if follower <= 0 || followee <= 0 {
        let why = format!("{kind}: follower_id and followee_id must be positive");
        return Err(TimelineError::Malformed(why));
    }
    Ok((follower, followee))
}
