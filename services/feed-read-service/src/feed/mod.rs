//! Home timelines read page by page: the domain of feed-read-service (no gRPC server here).
//!
//! A page is built in rounds. Each round reads, after the cursor, the user's `tl:` (fanned-out
//! posts) and the `ap:` lists of the celebrities they follow (`window`), merges them newest
//! first, hydrates the posts from the `pc:` cache with misses fetched from post-service
//! (`hydrate`), and drops deleted ones; another round runs while the page is short. A timeline
//! without its sentinel is rebuilt from post-service first (`rebuild`). Every Redis read and
//! write follows `feedline_redis::timeline`, the rules fanout-service writes by too.
//!
//! - `celebrities`: the authors readers pull, kept in memory for a moment.
//! - `cursor`: the position a page ends at, and its opaque token.
//! - `window`: the candidates after a cursor, from every list, merged.
//! - `hydrate`: candidates to posts, deleted ones dropped.
//! - `rebuild`: a missing timeline rebuilt from post-service.
//! - `source`: post-service, for what Redis lacks.

mod celebrities;
mod cursor;
mod hydrate;
mod readers;
mod rebuild;
mod source;
mod window;

use std::sync::Arc;
use std::time::Duration;

use feedline_proto::post::v1::Post;
use feedline_redis::timeline::Rules;
use fred::clients::Client;

pub use cursor::Cursor;
pub use source::PostSource;

use crate::error::FeedError;

/// Rounds a page may take when deleted posts leave it short; then it is returned short, with
/// a token to go on (a page may hold fewer items than asked, never wrong ones).
const MAX_ROUNDS: usize = 4;

/// How long a read of the `celebrities` set is reused by default.
pub const DEFAULT_CELEBRITIES_REFRESH: Duration = Duration::from_secs(1);

/// How timelines are shaped (the same values as fanout-service's) and read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedConfig {
    /// Entries a timeline keeps, and so how many posts a rebuild asks for.
    pub timeline_cap: usize,
    /// Lifetime of what this service writes into the post cache.
    pub post_cache_ttl: Duration,
    /// How long a read of the `celebrities` set serves later reads (zero: read it every time).
    pub celebrities_refresh: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            timeline_cap: feedline_redis::DEFAULT_TIMELINE_CAP,
            post_cache_ttl: feedline_redis::DEFAULT_POST_CACHE_TTL,
            celebrities_refresh: DEFAULT_CELEBRITIES_REFRESH,
        }
    }
}

/// How a post reached the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Written into `tl:` by fan-out on write (or by a rebuild).
    Fanout,
    /// Pulled at read time from a followed celebrity's `ap:`.
    Pulled,
}

/// One entry of a page.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The hydrated post.
    pub post: Post,
    /// Where it came from.
    pub source: Source,
}

/// A page of a home timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Newest first.
    pub items: Vec<Item>,
    /// Where the next page starts; None when the timeline is exhausted.
    pub next: Option<Cursor>,
}

/// Reads home timelines; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    redis: Client,
    source: PostSource,
    /// Shared by every clone, so one read serves all requests.
    celebrities: Arc<celebrities::Celebrities>,
    /// Who may read which feed, shared by every clone.
    readers: Arc<readers::Readers>,
    config: FeedConfig,
    /// The trim and TTL of `config`, as `feedline_redis::timeline` applies them.
    rules: Rules,
}

impl Feed {
    /// Reads through `redis` (connected, clustered), falling back to `source`.
    pub fn new(redis: Client, source: PostSource, config: FeedConfig) -> Self {
        Self {
            redis,
            source,
            celebrities: Arc::new(celebrities::Celebrities::new(config.celebrities_refresh)),
            readers: Arc::default(),
            rules: Rules::new(config.timeline_cap, config.post_cache_ttl),
            config,
        }
    }

    /// Ok when `caller` may read `user`'s feed; `authorization` is its bearer metadata,
    /// forwarded to post-service to learn which user the caller is.
    pub async fn check_reader(
        &self,
        caller: &feedline_service_kit::auth::Caller,
        authorization: Option<&str>,
        user: i64,
    ) -> Result<(), FeedError> {
        self.readers
            .check(&self.source, caller, authorization, user)
            .await
    }

    /// The page of `user`'s home timeline after `after` (the start when None), at most `size`
    /// items, newest first. Exact under concurrent inserts: the cursor is a position in the
    /// (time, id) order, not an offset, so a walk never repeats or skips an entry.
    #[tracing::instrument(skip(self))]
    pub async fn page(
        &self,
        user: i64,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page, FeedError> {
        let page = self.read_page(user, size, after).await;
        if let Err(FeedError::Redis(_)) = &page {
            count_redis_error();
        }
        page
    }

    /// [`Feed::page`], uncounted.
    async fn read_page(
        &self,
        user: i64,
        size: usize,
        after: Option<Cursor>,
    ) -> Result<Page, FeedError> {
        let mut items = Vec::with_capacity(size);
        let mut cursor = after;
        for _ in 0..MAX_ROUNDS {
            let window = self.window(user, cursor, size - items.len()).await?;
            if let Some(last) = window.candidates.last() {
                cursor = Some(last.cursor());
            }
            items.extend(self.hydrate(&window.candidates).await?);
            if !window.more {
                return Ok(Page { items, next: None });
            }
            if items.len() == size {
                break;
            }
        }
        Ok(Page {
            items,
            next: cursor,
        })
    }

    /// PINGs every master; for the health probe.
    pub async fn ping(&self) -> Result<(), FeedError> {
        Ok(feedline_redis::ping_masters(&self.redis).await?)
    }
}

/// Counts a page read that Redis failed (an error or a timeout) in `feedline.redis.errors`.
fn count_redis_error() {
    feedline_redis::count_error("feed-read-service");
}
