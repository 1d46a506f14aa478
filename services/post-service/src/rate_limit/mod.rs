//! Per-user rate limits: how many posts and follows one user may make per window, counted in
//! the Redis Cluster so that every replica of post-service shares the count.
//!
//! Only users are limited: a caller with the admin or the service scope (back-office work, the
//! load generator) is not, and neither is any caller while authentication is off (each is then
//! trusted as an admin, and a user could name any other user anyway). A write past its limit is
//! refused with RESOURCE_EXHAUSTED and a RetryInfo delay that ends with the window, before it
//! touches the database. The limiter fails open: while Redis is unreachable or slow, writes are
//! admitted (with a warning), so a Redis outage never stops writes.
//!
//! - `config`: the limits, the window, and whether the limiter is on at all.
//! - `counter`: the fixed-window counter in Redis, one round trip per write.
//! - `limiter`: who is limited, the verdict, failing open, the connection's life.

mod config;
mod counter;
mod limiter;

pub use config::{DEFAULT_FOLLOWS, DEFAULT_POSTS, DEFAULT_WINDOW, Quota, RateLimitConfig};
pub use limiter::RateLimiter;
