//! DeliverPost: cache each post, record it in its author's list, write it into every
//! follower's timeline (unless the author is a celebrity, whose posts readers pull). A post
//! already retracted (its cache key holds the tombstone) is not delivered again.
//!
//! Deliveries are applied in groups of any authors: every post bound for one `tl:` key, whoever
//! wrote it, goes into one multi-member ZADD, and each phase is one pipeline whatever the group
//! size (record and cache every post; read every author's follower index; write every
//! timeline, per cluster node).

use std::collections::HashMap;

use feedline_proto::fanout::v1::DeliverPost;
use feedline_proto::post::v1::Post;
use feedline_redis::keys::{self, Entry, entry_of};
use feedline_redis::timeline::{self, Encoded, Read, encode, queue_all, read};
use fred::types::Value;

use super::{Applied, TimelineError, Timelines};

/// Commands the first phase sends per post.
const RECORD_COMMANDS: usize = 7;

/// What the first phase found for one author (from its last post in the group).
#[derive(Clone, Copy, Debug, Default)]
struct AuthorState {
    posts_built: bool,
    followers_built: bool,
    /// Followers in the index (its cardinality less the sentinel); meaningless if not built.
    follower_count: usize,
}

/// Where an author's posts go.
enum Audience {
    /// Fanned out to these followers.
    Followers(Vec<i64>),
    /// A celebrity: readers pull; no timeline is written.
    Pulled,
}

/// What a group of deliveries did: the totals, and each event's recipients in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupApplied {
    /// Commands and pipelines of the whole group; `recipients` counts distinct timelines.
    pub total: Applied,
    /// Timelines each input event was written into (0: a celebrity's post, or a deleted one).
    pub recipients: Vec<usize>,
}

impl GroupApplied {
    /// Nothing done yet for `events` events.
    pub(super) fn of(events: usize) -> Self {
        Self {
            recipients: vec![0; events],
            ..Self::default()
        }
    }

    /// What the only event of a group of one did.
    pub(super) fn single(self) -> Applied {
        Applied {
            recipients: self.recipients.first().copied().unwrap_or(0),
            ..self.total
        }
    }
}

impl Timelines {
    /// Applies DeliverPosts of any authors at once, with the end state of applying them one
    /// after another. Deliveries commute (distinct members, the trim spares the newest), so
    /// this is valid for any group with no other event of its authors between its posts: the
    /// caller keeps each author's other events out of the group and after it (run concurrently
    /// with an unfollow of an author, a ZADD could land after its ZREM).
    #[tracing::instrument(skip_all, fields(posts = events.len()))]
    pub(super) async fn deliver_many(
        &self,
        events: &[&DeliverPost],
    ) -> Result<GroupApplied, TimelineError> {
        let posts = events
            .iter()
            .map(|event| validate(event))
            .collect::<Result<Vec<_>, _>>()?;
        let mut group = GroupApplied::of(posts.len());
        if posts.is_empty() {
            return Ok(group);
        }
        let (states, deleted) = self.record_posts(&posts, &mut group.total).await?;
        let audiences = self.audiences(&states, &mut group.total).await?;

        // Every live post of a fanned-out author, grouped by the timeline it goes to.
        let trim_every = self.inner.config.trim_every;
        let mut timelines: HashMap<i64, (Vec<Encoded>, bool)> = HashMap::new();
        for (index, (post, entry)) in posts.iter().enumerate() {
            if deleted[index] {
                continue;
            }
            let Some(Audience::Followers(followers)) = audiences.get(&post.author_id) else {
                continue;
            };
            group.recipients[index] = followers.len();
            let entry = encode(entry);
            for &follower in followers {
                let (entries, trim) = timelines.entry(follower).or_default();
                entries.push(entry.clone());
                // The same rule as one-by-one delivery: trimmed if any of the posts says so.
                *trim |= keys::should_trim(post.post_id, follower, trim_every);
            }
        }
        if timelines.is_empty() {
            return Ok(group);
        }
        let writes = timelines
            .into_iter()
            .map(|(follower, (entries, trim))| self.rules().fan_in(follower, entries, trim))
            .collect::<Vec<_>>();
        self.write_timelines(writes, &mut group.total).await?;
        Ok(group)
    }

    /// Phase 1, one pipeline for the whole group: per post, add it to `ap:` and trim that,
    /// read whether `ap:` and `fl:` are built and how many followers there are, cache the post
    /// (`SET NX`: a replay never overwrites a deleted post's tombstone) and see whether the
    /// cache holds a tombstone. Posts found deleted leave `ap:` again.
    async fn record_posts(
        &self,
        posts: &[(&Post, Entry)],
        applied: &mut Applied,
    ) -> Result<(HashMap<i64, AuthorState>, Vec<bool>), TimelineError> {
        let pipeline = self.inner.redis.pipeline();
        for (post, entry) in posts {
            let record = self.rules().record_post(post.author_id, entry);
            queue_all(&pipeline, vec![record]).await?;
            read::<_, ()>(&pipeline, Read::PostsBuilt(post.author_id)).await?;
            read::<_, ()>(&pipeline, Read::FollowersBuilt(post.author_id)).await?;
            read::<_, ()>(&pipeline, Read::FollowerCount(post.author_id)).await?;
            queue_all(&pipeline, vec![self.rules().cache_post(post)]).await?;
            read::<_, ()>(&pipeline, Read::CacheLength(post.post_id)).await?;
        }
        // `all`, not `last`: `last` would hide an error reply.
        let replies: Vec<Value> = self.replies(pipeline).await?;
        applied.commands += RECORD_COMMANDS * posts.len();
        let reply = |i: usize| replies.get(i).cloned().unwrap_or(Value::Null);

        let mut states = HashMap::new();
        let mut deleted = Vec::with_capacity(posts.len());
        let mut retracted = Vec::new();
        for (index, (post, entry)) in posts.iter().enumerate() {
            let base = index * RECORD_COMMANDS;
            states.insert(
                post.author_id,
                AuthorState {
                    posts_built: timeline::built(&reply(base + 2)),
                    followers_built: timeline::built(&reply(base + 3)),
                    follower_count: timeline::follower_count(&reply(base + 4)),
                },
            );
            let tombstone = timeline::is_tombstone(&reply(base + 6));
            if tombstone {
                retracted.push(timeline::unlist_post(post.author_id, &entry.1));
                // And into the author's recent deletions, as its retraction put it: in a
                // replay after a failover that lost `ar:`, an unfollow replayed between this
                // delivery and the retraction must still take the post out of the former
                // follower's timeline (it is no longer in `ap:`).
                retracted.push(self.rules().retracted(post.author_id, &entry.1));
            }
            deleted.push(tombstone);
        }
        if !retracted.is_empty() {
            self.send_writes(retracted, applied).await?;
        }
        Ok((states, deleted))
    }

    /// Phase 2: each author's audience. Lists Redis lacks are rebuilt from the source (rare,
    /// one author at a time); the built follower indexes are read in one pipeline.
    async fn audiences(
        &self,
        states: &HashMap<i64, AuthorState>,
        applied: &mut Applied,
    ) -> Result<HashMap<i64, Audience>, TimelineError> {
        let threshold = self.inner.config.celebrity_threshold;
        let mut audiences = HashMap::with_capacity(states.len());
        let mut to_read = Vec::new();
        for (&author, state) in states {
            let rebuilt = if !state.posts_built {
                Some(self.rebuild_author(author, applied).await?.followers)
            } else if !state.followers_built {
                Some(self.rebuild_followers(author, applied).await?)
            } else {
                None
            };
            if let Some(followers) = rebuilt {
                let audience = if followers.len() > threshold {
                    self.pulled(author, applied).await?
                } else {
                    Audience::Followers(followers)
                };
                audiences.insert(author, audience);
            } else if state.follower_count > threshold {
                audiences.insert(author, self.pulled(author, applied).await?);
            } else {
                to_read.push(author);
            }
        }
        if !to_read.is_empty() {
            let pipeline = self.inner.redis.pipeline();
            for &author in &to_read {
                read::<_, ()>(&pipeline, Read::Followers(author)).await?;
            }
            let replies: Vec<Value> = self.replies(pipeline).await?;
            applied.commands += to_read.len();
            for (author, reply) in to_read.into_iter().zip(replies) {
                let followers = timeline::follower_ids(reply)?;
                audiences.insert(author, Audience::Followers(followers));
            }
        }
        Ok(audiences)
    }

    /// A celebrity is listed before the ack, so a reader that finds the author listed pulls
    /// the post from `ap:`.
    async fn pulled(&self, author: i64, applied: &mut Applied) -> Result<Audience, TimelineError> {
        self.mark_celebrity(author, applied).await?;
        Ok(Audience::Pulled)
    }
}

/// The post and its entry, or why the event can never apply.
fn validate(event: &DeliverPost) -> Result<(&Post, Entry), TimelineError> {
    let malformed = |why: &str| TimelineError::Malformed(format!("deliver_post: {why}"));
    let post = event.post.as_ref().ok_or_else(|| malformed("no post"))?;
    if post.post_id <= 0 || post.author_id <= 0 {
        return Err(malformed("post_id and author_id must be positive"));
    }
    if post.create_time.is_none() {
        return Err(malformed("post has no create_time"));
    }
    let entry = entry_of(post).ok_or_else(|| malformed("create_time out of range"))?;
    Ok((post, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_posts_that_cannot_be_scored() {
        let post = Post {
            post_id: 5,
            author_id: 2,
            body: "hi".into(),
            create_time: Some(feedline_proto::millis_to_timestamp(1_000)),
        };
        let ok = DeliverPost {
            post: Some(post.clone()),
        };
        let (_, entry) = validate(&ok).unwrap();
        assert_eq!(entry, (1_000.0, "0000000000000000005".to_owned()));
        let cases = [
            DeliverPost { post: None },
            DeliverPost {
                post: Some(Post {
                    create_time: None,
                    ..post.clone()
                }),
            },
            DeliverPost {
                post: Some(Post {
                    post_id: 0,
                    ..post.clone()
                }),
            },
        ];
        for case in cases {
            assert!(validate(&case).unwrap_err().is_permanent());
        }
    }
}
