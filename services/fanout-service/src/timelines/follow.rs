//! AddFollow and RemoveFollow: keep the follower index in step with the graph, and copy the
//! followee's newest posts into (or take all of them out of) the follower's timeline.

use std::collections::HashMap;

use feedline_proto::fanout::v1::{AddFollow, RemoveFollow};
use feedline_redis::keys::Entry;
use feedline_redis::timeline::{self, KeyWrites, Read, queue_all, read};
use fred::types::Value;

use super::{Applied, GroupApplied, TimelineError, Timelines};

/// A followee of a group of follows.
struct Followee {
    /// Its newest posts, newest first (the backfill).
    posts: Vec<Entry>,
    /// Its follower count, when the group rebuilt its index from the source.
    rebuilt_count: Option<usize>,
    /// Whether this group listed it as a celebrity already.
    listed: bool,
}

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
        let replies: Vec<Value> = self.replies(pipeline).await?;
        group.total.commands += per_event * pairs.len();

        // Each followee's newest posts, read (or rebuilt) once per group, and its follower count
        // once rebuilt from the source.
        let mut followees: HashMap<i64, Followee> = HashMap::new();
        let mut timelines: HashMap<i64, Vec<Entry>> = HashMap::new();
        for (index, &(follower, followee)) in pairs.iter().enumerate() {
            let reply = |i: usize| {
                replies
                    .get(index * per_event + i)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = followees.entry(followee) {
                let state = self
                    .followee(followee, backfill, &reply, &mut group.total)
                    .await?;
                slot.insert(state);
            }
            let Some(state) = followees.get_mut(&followee) else {
                continue;
            };
            // As if the group's follows applied one by one: each edge sees the count its own
            // SADD left, unless the index was rebuilt (the source counts every follow of the
            // group: they committed before their events were sent).
            let followers = state
                .rebuilt_count
                .unwrap_or_else(|| timeline::follower_count(&reply(3)));
            if followers > self.inner.config.celebrity_threshold {
                // Listed, so the new follower's reads pull the followee's posts (even before
                // the followee's next post marks them); never copied into the timeline: a
                // backfill would put there what a delivery never would.
                if !state.listed {
                    self.mark_celebrity(followee, &mut group.total).await?;
                    state.listed = true;
                }
                continue;
            }
            let entries: Vec<Entry> = state.posts.iter().take(backfill).cloned().collect();
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

    /// What a group needs of a followee, from the replies of the first of its edges in
    /// [`Self::add_follows`] (`reply(1..=4)`: index built, list built, index size, newest
    /// posts), rebuilding what Redis lacks.
    async fn followee(
        &self,
        followee: i64,
        backfill: usize,
        reply: &impl Fn(usize) -> Value,
        applied: &mut Applied,
    ) -> Result<Followee, TimelineError> {
        let followers_built = timeline::built(&reply(1));
        let posts_built = timeline::built(&reply(2));
        let (posts, rebuilt_count) = if !posts_built {
            // Followers re-read after the posts (see `rebuild_author`), built or not.
            let rebuilt = self.rebuild_author(followee, applied).await?;
            (rebuilt.posts, Some(rebuilt.followers.len()))
        } else {
            let rebuilt_count = if followers_built {
                None
            } else {
                Some(self.rebuild_followers(followee, applied).await?.len())
            };
            // With no backfill, `reply(4)` was never asked for.
            let posts = if backfill > 0 {
                timeline::entries(reply(4))?
            } else {
                Vec::new()
            };
            (posts, rebuilt_count)
        };
        Ok(Followee {
            posts,
            rebuilt_count,
            listed: false,
        })
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
        let replies: Vec<Value> = self.replies(pipeline).await?;
        applied.commands += 5;
        // The SREM's reply first, then the reads'.
        let mut replies = replies.into_iter().skip(1);
        let mut next = || replies.next().unwrap_or(Value::Null);
        let followers_built = timeline::built(&next());
        let posts_built = timeline::built(&next());
        let all_posts = next();
        let deleted = timeline::members(next())?;

        // The edge is already gone at the source, so a rebuilt index leaves it out.
        let mut members: Vec<String> = if posts_built {
            if !followers_built {
                self.rebuild_followers(followee, &mut applied).await?;
            }
            timeline::members(all_posts)?
        } else {
            let rebuilt = self.rebuild_author(followee, &mut applied).await?;
            rebuilt
                .posts
                .into_iter()
                .map(|(_, member)| member)
                .collect()
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
