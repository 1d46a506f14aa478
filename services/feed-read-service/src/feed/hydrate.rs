//! Candidates to posts: from the `pc:` cache, misses fetched from post-service in one batch and
//! written back. A deleted post (a tombstone in the cache, or unknown to post-service) is dropped.

use std::collections::HashMap;
use std::time::Duration;

use feedline_proto::post::v1::Post;
use feedline_redis::timeline::{Cached, Read, cached, queue_all, read};
use fred::types::Value;

use super::window::Candidate;
use super::{Feed, Item};
use crate::error::FeedError;

impl Feed {
    /// The live posts of `candidates`, in their order.
    pub(super) async fn hydrate(&self, candidates: &[Candidate]) -> Result<Vec<Item>, FeedError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let pipeline = self.redis.pipeline();
        for candidate in candidates {
            read::<_, ()>(&pipeline, Read::CachedPost(candidate.post_id)).await?;
        }
        // The page's GETs leave in about one write per node. Measured at 5,000 reads/s:
        // 8.3 -> 5.9 writev per read, p99 19.9 -> 6.6 ms (docs/benchmarks.md).
        let replies: Vec<Value> =
            feedline_redis::flushed_together(&self.redis, within_deadline(pipeline.all())).await?;
        let mut cached: Vec<Cached> = replies.into_iter().map(cached).collect();
        let misses: Vec<i64> = candidates
            .iter()
            .zip(&cached)
            .filter(|(_, c)| matches!(c, Cached::Missing))
            .map(|(candidate, _)| candidate.post_id)
            .collect();
        if !misses.is_empty() {
            let mut fetched = self.fetch_and_cache(&misses).await?;
            for (candidate, slot) in candidates.iter().zip(cached.iter_mut()) {
                if matches!(slot, Cached::Missing) {
                    *slot = match fetched.remove(&candidate.post_id) {
                        Some(post) => Cached::Post(post),
                        None => Cached::Deleted,
                    };
                }
            }
        }
        Ok(candidates
            .iter()
            .zip(cached)
            .filter_map(|(candidate, cached)| match cached {
                Cached::Post(post) => Some(Item {
                    post,
                    source: candidate.source,
                }),
                Cached::Deleted | Cached::Missing => None,
            })
            .collect())
    }

    /// Fetches `ids` from post-service in one call and caches what it returns, and a tombstone
    /// for what it does not (deleted or never created). Both with NX: a retract's tombstone,
    /// which may land meanwhile, is never overwritten by a post read before it.
    #[tracing::instrument(skip_all, fields(misses = ids.len()))]
    async fn fetch_and_cache(&self, ids: &[i64]) -> Result<HashMap<i64, Post>, FeedError> {
        let (posts, missing) = self.source.batch_get(ids).await?;
        let writes = posts
            .iter()
            .map(|post| self.rules.cache_post(post))
            .chain(missing.iter().map(|&id| self.rules.cache_missing(id)))
            .collect();
        let pipeline = self.redis.pipeline();
        queue_all(&pipeline, writes).await?;
        let _: Vec<Value> = within_deadline(pipeline.all()).await?;
        Ok(posts.into_iter().map(|post| (post.post_id, post)).collect())
    }
}

/// `command`, given up when the read's own deadline (less a margin) passes first: the client's
/// per-command timeout (`FEEDLINE_REDIS_COMMAND_TIMEOUT_MS`) bounds it otherwise.
async fn within_deadline<T>(
    command: impl std::future::Future<Output = Result<T, fred::error::Error>>,
) -> Result<T, fred::error::Error> {
    let Some(_) = feedline_service_kit::inbound_deadline() else {
        return command.await;
    };
    let timeout = feedline_service_kit::outgoing_timeout(Duration::MAX);
    tokio::time::timeout(timeout, command)
        .await
        .unwrap_or_else(|_| {
            Err(fred::error::Error::new(
                fred::error::ErrorKind::Timeout,
                "the read's deadline passed",
            ))
        })
}
