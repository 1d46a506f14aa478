//! DeliverPost: cache the post, record it in the author's list, write it into every follower's
//! timeline (unless the author is a celebrity, whose posts readers pull). A post already
//! retracted (its cache key holds the tombstone) is not delivered again.

use feedline_proto::fanout::v1::DeliverPost;
use feedline_proto::post::v1::Post;
use feedline_proto::prost::Message as _;
use fred::bytes::Bytes;
use fred::interfaces::{KeysInterface as _, SetsInterface as _, SortedSetsInterface as _};
use fred::types::{SetOptions, Value};

use feedline_redis::keys::{Entry, entry_of};

use super::index::sentinel_present;
use super::pipeline::{KeyWrites, Op, send_per_node};
use feedline_redis::keys;

use super::{Applied, TimelineError, Timelines};

/// What the first round trip to the author's slot found.
struct AuthorState {
    posts_built: bool,
    followers_built: bool,
    /// Followers in the index (its cardinality less the sentinel); meaningless if not built.
    follower_count: usize,
}

impl Timelines {
    /// Applies a DeliverPost: a run of one. The caller must apply one author's events in order:
    /// run concurrently with an unfollow of this author, the ZADD could land after its ZREM.
    pub(super) async fn deliver(&self, event: &DeliverPost) -> Result<Applied, TimelineError> {
        self.deliver_many(&[event]).await
    }

    /// Applies several DeliverPosts of one author at once, as if applied one after another:
    /// each post is recorded and cached, the follower index is read once, and every follower
    /// gets one ZADD carrying all the posts. Deliveries commute (distinct members), so this is
    /// only valid for a run of deliveries with no other event of the author between them.
    #[tracing::instrument(skip_all, fields(posts = events.len()))]
    pub(super) async fn deliver_many(
        &self,
        events: &[&DeliverPost],
    ) -> Result<Applied, TimelineError> {
        let mut posts = Vec::with_capacity(events.len());
        for event in events {
            posts.push(validate(event)?);
        }
        let Some(author) = posts.first().map(|(post, _)| post.author_id) else {
            return Ok(Applied::default());
        };
        if posts.iter().any(|(post, _)| post.author_id != author) {
            return Err(TimelineError::Malformed(
                "deliver_many: posts of several authors".into(),
            ));
        }
        let mut applied = Applied::default();
        let recorded =
            futures::future::try_join_all(posts.iter().map(|(post, entry)| async move {
                tokio::try_join!(self.record_post(author, entry), self.cache_post(post))
            }))
            .await?;
        applied.commands += 7 * posts.len();
        let mut live = Vec::with_capacity(posts.len());
        let mut built = (true, true, 0usize);
        for ((post, entry), (state, deleted)) in posts.iter().zip(recorded) {
            built = (
                state.posts_built,
                state.followers_built,
                state.follower_count,
            );
            if deleted {
                let () = self
                    .inner
                    .redis
                    .zrem(keys::author_posts(author), &entry.1)
                    .await?;
                applied.commands += 1;
            } else {
                live.push((post.post_id, entry.clone()));
            }
        }
        let (posts_built, followers_built, follower_count) = built;
        if !posts_built {
            self.rebuild_author_posts(author, &mut applied).await?;
        }
        let threshold = self.inner.config.celebrity_threshold;
        let followers = if !followers_built {
            self.rebuild_followers(author, &mut applied).await?
        } else if follower_count > threshold {
            Vec::new()
        } else {
            self.read_followers(author, &mut applied).await?
        };
        let celebrity = if followers_built {
            follower_count > threshold
        } else {
            followers.len() > threshold
        };
        if celebrity {
            // Before the ack: a reader that finds the author listed pulls this post from `ap:`.
            self.mark_celebrity(author, &mut applied).await?;
            return Ok(applied);
        }
        if live.is_empty() || followers.is_empty() {
            return Ok(applied);
        }
        let trim_every = self.inner.config.trim_every;
        let entries: Vec<Entry> = live.iter().map(|(_, entry)| entry.clone()).collect();
        let writes = followers
            .iter()
            .map(|&follower| {
                let mut ops = vec![Op::Zadd(entries.clone())];
                // The same rule as one-by-one delivery: trimmed if any of the posts says so.
                if live
                    .iter()
                    .any(|(id, _)| keys::should_trim(*id, follower, trim_every))
                {
                    ops.push(self.list_trim());
                }
                KeyWrites {
                    key: keys::timeline(follower),
                    ops,
                }
            })
            .collect();
        let sent = send_per_node(&self.inner.redis, writes, self.inner.config.max_pipeline).await?;
        applied.recipients = followers.len();
        applied.commands += sent.commands;
        applied.pipelines += sent.pipelines;
        Ok(applied)
    }

    /// One pipeline to the author's slot (5 commands): add the post to `ap:` and trim it, then
    /// read whether `ap:` and `fl:` are built and how many followers there are.
    async fn record_post(&self, author: i64, entry: &Entry) -> Result<AuthorState, TimelineError> {
        let posts = keys::author_posts(author);
        let followers = keys::followers(author);
        let pipeline = self.inner.redis.pipeline();
        let () = pipeline
            .zadd(&posts, None, None, false, false, entry.clone())
            .await?;
        let (start, stop) = self.author_posts_trim_ranks();
        let () = pipeline.zremrangebyrank(&posts, start, stop).await?;
        let () = pipeline.zscore(&posts, keys::SENTINEL).await?;
        let () = pipeline.sismember(&followers, keys::SENTINEL).await?;
        let () = pipeline.scard(&followers).await?;
        let replies: Vec<Value> = pipeline.all().await?;
        let reply = |i: usize| replies.get(i).cloned().unwrap_or(Value::Null);
        let cardinality = reply(4).as_u64().unwrap_or(0);
        Ok(AuthorState {
            posts_built: sentinel_present(&reply(2)),
            followers_built: sentinel_present(&reply(3)),
            follower_count: usize::try_from(cardinality.saturating_sub(1)).unwrap_or(usize::MAX),
        })
    }

    /// `SET pc:{P} <Post> NX EX ttl` (NX: a replay never overwrites the tombstone of a
    /// deleted post), then STRLEN: true when the key holds that tombstone.
    async fn cache_post(&self, post: &Post) -> Result<bool, TimelineError> {
        let key = keys::post_cache(post.post_id);
        let pipeline = self.inner.redis.pipeline();
        let () = pipeline
            .set(
                &key,
                Bytes::from(post.encode_to_vec()),
                Some(self.cache_expiration()),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        let () = pipeline.strlen(&key).await?;
        // `all`, not `last`: `last` would hide an error reply to the SET.
        let replies: Vec<Value> = pipeline.all().await?;
        // An encoded post is never empty: it has an id and a body.
        Ok(replies.get(1).and_then(Value::as_u64) == Some(0))
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
