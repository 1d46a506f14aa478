//! AddFollow and RemoveFollow: keep the follower index in step with the graph, and copy the
//! followee's newest posts into (or take all of them out of) the follower's timeline.

use std::collections::HashMap;

use feedline_proto::fanout::v1::{AddFollow, RemoveFollow};
use fred::interfaces::{SetsInterface as _, SortedSetsInterface as _};
use fred::types::Value;

use feedline_redis::keys::Entry;

use super::index::sentinel_present;
use super::pipeline::{KeyWrites, Op, zadd};
use feedline_redis::keys;

use super::{Applied, GroupApplied, TimelineError, Timelines};

impl Timelines {
    /// Applies an AddFollow: a group of one.
    pub(super) async fn add_follow(&self, event: &AddFollow) -> Result<Applied, TimelineError> {
        let group = self.add_follows(&[event]).await?;
        Ok(Applied {
            recipients: group.recipients.first().copied().unwrap_or(0),
            ..group.total
        })
    }

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
        let mut pairs = Vec::with_capacity(events.len());
        for event in events {
            pairs.push(validate(
                "add_follow",
                event.follower_id,
                event.followee_id,
            )?);
        }
        let backfill = self.inner.config.backfill_posts;
        let per_event = 4 + usize::from(backfill > 0);
        let mut group = GroupApplied {
            recipients: vec![0; pairs.len()],
            ..GroupApplied::default()
        };
        let pipeline = self.inner.redis.pipeline();
        for &(follower, followee) in &pairs {
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
            let entries: Vec<Entry> = posts
                .iter()
                .filter(|(_, member)| member != keys::SENTINEL)
                .take(backfill)
                .cloned()
                .collect();
            if !entries.is_empty() {
                group.recipients[index] = 1;
                timelines.entry(follower).or_default().extend(entries);
            }
        }
        if timelines.is_empty() {
            return Ok(group);
        }
        // Always trimmed: a follow is rare, and a backfill can add up to `backfill` at once.
        let writes: Vec<KeyWrites> = timelines
            .into_iter()
            .map(|(follower, entries)| KeyWrites {
                key: keys::timeline(follower),
                ops: vec![zadd(&entries), self.list_trim()],
            })
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
        let followers_built = sentinel_present(&reply(1));
        let posts_built = sentinel_present(&reply(2));
        let followers = if followers_built {
            let cardinality: i64 = reply(3).convert()?;
            usize::try_from(cardinality - 1).unwrap_or(0) // less the sentinel
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
        let pairs: Vec<(String, f64)> = match reply(4) {
            Value::Null => Vec::new(),
            value => value.convert()?,
        };
        Ok(Some(
            pairs
                .into_iter()
                .map(|(member, score)| (score, member))
                .collect(),
        ))
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
        let () = pipeline
            .zrange(
                keys::author_retracted(followee),
                0,
                -1,
                None,
                false,
                None,
                false,
            )
            .await?;
        let replies: Vec<Value> = pipeline.all().await?;
        applied.commands += 5;
        let mut replies = replies.into_iter();
        let _removed = replies.next();
        let followers_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let posts_built = replies.next().is_some_and(|r| sentinel_present(&r));
        let all_posts = replies.next().unwrap_or(Value::Null);
        let deleted: Vec<String> = match replies.next() {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => value.convert()?,
        };

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
        // Deleted posts too: one deleted after this unfollow's writes were lost (a failover)
        // left `ap:` before this replayed unfollow could list it.
        members.extend(deleted);
        if members.is_empty() {
            return Ok(applied);
        }
        let write = KeyWrites {
            key: keys::timeline(follower),
            ops: vec![Op::Zrem(members)],
        };
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
