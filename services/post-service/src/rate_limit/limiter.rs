//! Who is limited, the verdict on a count, and failing open when Redis does not answer in time.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use feedline_service_kit::auth::Caller;
use feedline_service_kit::{CancellationToken, TlsConfig, connect_with_backoff};
use fred::prelude::{Client, ClientLike as _};

use super::config::{Quota, RateLimitConfig};
use super::counter::{Count, Counter};
use crate::error::{Error, Result};
use crate::ids::now_ms;

/// How long a write waits for its count before it is admitted uncounted. Redis answers in
/// about a millisecond; a node this slow is failing, and writes must not wait on it.
const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// At most one fail-open warning per this many ms, so an outage does not flood the log.
const WARN_EVERY_MS: i64 = 10_000;

/// The per-user limits of one process; the counts are in Redis, shared by every replica.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    /// The cluster, once [`RateLimiter::connect`] reached it; until then writes are admitted
    /// uncounted. [`RateLimiter::close`] quits it at shutdown.
    redis: OnceLock<Client>,
    counter: Counter,
    /// When the last fail-open warning was logged (Unix ms).
    warned_at: AtomicI64,
}

impl RateLimiter {
    /// A limiter with `config`'s limits, not connected yet.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            redis: OnceLock::new(),
            counter: Counter::default(),
            warned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Ok when `caller` may make one more write of `quota` as `user` (the acting user, whom
    /// the caller was already found to act as), and counts it; RateLimited past the limit.
    /// Admitted uncounted while Redis is unreachable or slow (fail open, with a warning).
    pub async fn check(&self, caller: &Caller, user: i64, quota: Quota) -> Result<()> {
        let limit = self.config.limit(quota);
        if limit == 0 || exempt(caller) {
            return Ok(());
        }
        let Some(redis) = self.redis.get() else {
            if self.config.redis_url.is_some() {
                self.warn_open(quota, "the redis cluster is not connected yet");
            }
            return Ok(());
        };
        let key = feedline_redis::keys::rate_limit(user, quota.name());
        let count = self.counter.count(redis, key, self.config.window);
        match tokio::time::timeout(REDIS_TIMEOUT, count).await {
            Ok(Ok(count)) => verdict(count, limit, quota, user, self.config.window),
            Ok(Err(error)) => {
                feedline_redis::count_error("post-service");
                self.warn_open(quota, &error.to_string());
                Ok(())
            }
            Err(_) => {
                feedline_redis::count_error("post-service");
                self.warn_open(quota, "no answer from the redis cluster within 100 ms");
                Ok(())
            }
        }
    }

    /// When the limiter is on, connects to the cluster (retrying with backoff until it works
    /// or `shutdown`); returns at once when it is off.
    pub async fn connect(&self, tls: &TlsConfig, shutdown: &CancellationToken) {
        let Some(url) = &self.config.redis_url else {
            return;
        };
        let connect = || feedline_redis::connect(url, tls);
        if let Some(client) = connect_with_backoff("redis cluster", shutdown, connect).await {
            tracing::info!(
                posts = self.config.posts,
                follows = self.config.follows,
                window_s = self.config.window.as_secs(),
                "rate limits on: redis cluster connected"
            );
            let _ = self.redis.set(client);
        }
    }

    /// Quits the cluster connection, if there is one (after the server has drained).
    pub async fn close(&self) {
        if let Some(redis) = self.redis.get()
            && let Err(error) = redis.quit().await
        {
            tracing::warn!(%error, "closing the rate-limit redis connection");
        }
    }

    /// Logs that a write was admitted uncounted, at most once per [`WARN_EVERY_MS`].
    fn warn_open(&self, quota: Quota, cause: &str) {
        let now = now_ms();
        let last = self.warned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                quota = quota.name(),
                cause,
                "rate limit not checked: write admitted (fail open); logged once per 10 s"
            );
        }
    }
}

/// Callers no limit applies to: the admin scope (back-office work and the load generator act
/// for many users), the service scope, and every caller while authentication is off (trusted
/// as an admin).
fn exempt(caller: &Caller) -> bool {
    caller.admin || caller.service
}

/// Ok while `count` is within `limit`; else RateLimited until the window ends.
fn verdict(count: Count, limit: u32, quota: Quota, user: i64, window: Duration) -> Result<()> {
    if count.writes <= u64::from(limit) {
        return Ok(());
    }
    tracing::debug!(user, quota = quota.name(), limit, "rate limited");
    Err(Error::RateLimited {
        quota,
        user,
        limit,
        window,
        // A key that expires this very millisecond still says "later", never "now".
        retry_after: count.left.max(Duration::from_millis(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_caller() -> Caller {
        Caller {
            subject: "alice".into(),
            admin: false,
            service: false,
            authenticated: true,
        }
    }

    fn limiter(posts: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            posts,
            follows: 5,
            window: Duration::from_secs(60),
            redis_url: Some(feedline_redis::DEFAULT_URL.to_owned()),
        })
    }

    #[test]
    fn only_users_are_limited() {
        assert!(!exempt(&user_caller()));
        let admin = Caller {
            admin: true,
            ..user_caller()
        };
        let service = Caller {
            service: true,
            ..user_caller()
        };
        assert!(exempt(&admin) && exempt(&service));
        assert!(exempt(&Caller::trusted()), "authentication off");
    }

    #[test]
    fn past_the_limit_the_wait_is_what_is_left_of_the_window() {
        let window = Duration::from_secs(60);
        let count = |writes, left_ms| Count {
            writes,
            left: Duration::from_millis(left_ms),
        };
        assert!(verdict(count(3, 500), 3, Quota::Posts, 7, window).is_ok());
        match verdict(count(4, 1500), 3, Quota::Posts, 7, window) {
            Err(Error::RateLimited {
                quota,
                user,
                limit,
                retry_after,
                ..
            }) => {
                assert_eq!((quota, user, limit), (Quota::Posts, 7, 3));
                assert_eq!(retry_after, Duration::from_millis(1500));
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        let Err(Error::RateLimited { retry_after, .. }) =
            verdict(count(9, 0), 3, Quota::Follows, 7, window)
        else {
            panic!("expected RateLimited");
        };
        assert_eq!(retry_after, Duration::from_millis(1));
    }

    #[tokio::test]
    async fn before_redis_is_reached_writes_are_admitted() {
        let limiter = limiter(1);
        for _ in 0..3 {
            assert!(limiter.check(&user_caller(), 7, Quota::Posts).await.is_ok());
        }
    }
}
