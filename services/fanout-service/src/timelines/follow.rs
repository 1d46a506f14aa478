//! AddFollow and RemoveFollow: keep the follower index in step with the graph, and copy the
//! followee's newest posts into (or take all of them out of) the follower's timeline.

use std::collections::HashMap;

use feedline_proto::fanout::v1::{AddFollow, RemoveFollow};
use feedline_redis::keys::Entry;
use feedline_redis::timeline::{self, KeyWrites, Read, queue_all, read};
use fred::types::Value;

use super::{Applied, GroupApplied, TimelineError, Timelines};

impl Timelines {
    /// Applies AddFollows of any followees: index each edge, backfill each followee's newest
    /// posts, as many as `backfill_posts`, whenever they were created (none for a celebrity,
    /// who is pulled at read).
    ///
    /// Not only those created before the follow: on PostgreSQL and MySQL a Follow can commit
    /// after a post its followee created meanwhile was delivered, to an index without this
    /// follower yet; only the backfill can bring that post (`tests/relay_postgres.rs`). A post
    /// whose delivery comes later is written twice, with the same score: a no-op. One pipeline
    /// indexes every edge and reads every backfill; each follower's timeline gets one ZADD.
    #[tracing::instrument(skip_all, fields(follows = events.len()))]
    pub(super) async fn add_follows(
        &self,
        events: &[&AddFollow],
    ) -> Result<GroupApplied, TimelineError> {
        let pairs = events
            .iter()
            .map(|event| validate("add_follow", event.follower_id, event.followee_id))
            .collect::<Result<Vec<_>, _>>()?;
        let backfill = self.inner.config.backfill_posts;
        let per_event = 4 + usize::from(backfill > 0);
        let mut group = GroupApplied::of(pairs.len());
        let pipeline = self.inner.redis.pipeline();
        for &(follower, followee) in &pairs {
            queue_all(&pipeline, vec![timeline::follow(followee, follower)]).await?;
            read::<_, ()>(&pipeline, Read::FollowersBuilt(followee)).await?;
            read::<_, ()>(&pipeline, Read::PostsBuilt(followee)).await?;
            read::<_, ()>(&pipeline, Read::FollowerCount(followee)).await?;
            // Ranks 0..-1 would mean "all": with no backfill, ask for nothing instead.
            if backfill > 0 {
                let newest = Read::NewestPosts {
                    author: followee,
                    count: backfill,
                };
                read::<_, ()>(&pipeline, newest).await?;
            }
        }
        let replies: Vec<Value> = pipeline.all().await?;
        group.total.commands += per_event * pairs.len();

        // Each followee's newest posts, read once per group; None for a celebrity.
        let mut newest: HashMap<i64, Option<Vec<Entry>>> = HashMap::new();
        let mut timelines: HashMap<i64, Vec<Entry>> = HashMap::new();
        for (index, &(follower, followee)) in pairs.iter().enumerate() {
            let reply = |i: usize| {
                replies
                    .get(index * per_event + i)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = newest.entry(followee) {
                let list = self
                    .followee_posts(followee, &reply, &mut group.total)
                    .await?;
                slot.insert(list);
            }
            let Some(Some(posts)) = newest.get(&followee) else {
                continue;
            };
            let entries: Vec<Entry> = posts.iter().take(backfill).cloned().collect();
            if !entries.is_empty() {
                group.recipients[index] = 1;
                timelines.entry(follower).or_default().extend(entries);
            }
        }
        if timelines.is_empty() {
            return Ok(group);
        }
        let writes: Vec<KeyWrites> = timelines
            .into_iter()
            .map(|(follower, entries)| self.rules().backfill(follower, &entries))
            .collect();
        self.write_timelines(writes, &mut group.total).await?;
        Ok(group)
    }

    /// The followee's newest posts (newest first) from the replies of [`Self::add_follows`]
    /// (`reply(1..=4)`: index built, list built, index size, newest posts), rebuilding what
    /// Redis lacks; None for a celebrity, whose posts are pulled at read time from `ap:` and
    /// never copied into timelines: a backfill would put into a follower's timeline what a
    /// delivery never would. Listed, so the new follower's reads pull the followee's posts
    /// (even before the followee's next post marks them).
    async fn followee_posts(
        &self,
        followee: i64,
        reply: &impl Fn(usize) -> Value,
        applied: &mut Applied,
    ) -> Result<Option<Vec<Entry>>, TimelineError> {
        let followers_built = timeline::built(&reply(1));
        let posts_built = timeline::built(&reply(2));
        let followers = if followers_built {
            timeline::follower_count(&reply(3))
        } else {
            self.rebuild_followers(followee, applied).await?.len()
        };
        if followers > self.inner.config.celebrity_threshold {
            self.mark_celebrity(followee, applied).await?;
            return Ok(None);
        }
        if !posts_built {
            return Ok(Some(self.rebuild_author_posts(followee, applied).await?));
        }
        Ok(Some(timeline::entries(reply(4))?))
    }

    /// Applies a RemoveFollow: unindex the edge, remove every post of the followee's list, and
    /// of the followee's recent deletions (`ar:`), from the follower's timeline.
    #[tracing::instrument(skip_all, fields(follower = event.follower_id, followee = event.followee_id))]
    pub(super) async fn remove_follow(
        &self,
        event: &RemoveFollow,
    ) -> Result<Applied, TimelineError> {
        let (follower, followee) = validate("remove_follow", event.follower_id, event.followee_id)?;
        let mut applied = Applied::default();
        let pipeline = self.inner.redis.pipeline();
        queue_all(&pipeline, vec![timeline::unfollow(followee, follower)]).await?;
        read::<_, ()>(&pipeline, Read::FollowersBuilt(followee)).await?;
        read::<_, ()>(&pipeline, Read::PostsBuilt(followee)).await?;
        read::<_, ()>(&pipeline, Read::AllPosts(followee)).await?;
        read::<_, ()>(&pipeline, Read::Retracted(followee)).await?;
        let replies: Vec<Value> = pipeline.all().await?;
        applied.commands += 5;
        // The SREM's reply first, then the reads'.
        let mut replies = replies.into_iter().skip(1);
        let mut next = || replies.next().unwrap_or(Value::Null);
        let followers_built = timeline::built(&next());
        let posts_built = timeline::built(&next());
        let all_posts = next();
        let deleted = timeline::members(next())?;

        if !followers_built {
            // The edge is already gone at the source, so the rebuilt index leaves it out.
            self.rebuild_followers(followee, &mut applied).await?;
        }
        let mut members: Vec<String> = if posts_built {
            timeline::members(all_posts)?
        } else {
            let entries = self.rebuild_author_posts(followee, &mut applied).await?;
            entries.into_iter().map(|(_, member)| member).collect()
        };
        // Deleted posts too: one deleted after this unfollow's writes were lost (a failover)
        // left `ap:` before this replayed unfollow could list it.
        members.extend(deleted);
        if members.is_empty() {
            return Ok(applied);
        }
        let write = timeline::unfan(follower, members);
        self.write_timelines(vec![write], &mut applied).await?;
        Ok(applied)
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
