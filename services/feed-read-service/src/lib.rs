//! feed-read-service (skeleton): home timelines read page by page and hydrated with the posts.
//!
//! Its contract is `feedline.feed.v1.FeedService` (`proto/feedline/feed/v1/feed.proto`). The
//! implementation lands with the feed-read issue.

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50053;
