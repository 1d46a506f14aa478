//! The rate-limit settings, read with the rest of post-service's configuration.

use std::time::Duration;

use feedline_service_kit::config::ranged_or;
use feedline_service_kit::{ConfigError, Env};

/// Posts a user may create per window by default: well above what a person writes in an
/// hour, well below what a script would.
pub const DEFAULT_POSTS: u32 = 300;
/// Follows a user may make per window by default: room to follow a whole address book in an
/// hour, not to crawl the user base.
pub const DEFAULT_FOLLOWS: u32 = 1000;
/// The window by default: an hour. These limits bound abuse, not bursts (admission control and
/// the concurrency limit bound those), so the window is long: a short one with the same
/// average would let a script write 24 times the daily volume a person ever reaches.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// The largest limit a setting takes.
const MAX_LIMIT: u32 = 10_000_000;
/// The longest window: a day.
const MAX_WINDOW_SECS: u64 = 24 * 3600;

/// What a user's writes are counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// CreatePost.
    Posts,
    /// Follow.
    Follows,
}

impl Quota {
    /// The name in messages and in the Redis key (`rl:{user}:posts`).
    pub fn name(self) -> &'static str {
        match self {
            Quota::Posts => "posts",
            Quota::Follows => "follows",
        }
    }
}

/// The limits, per user and window; a limit of 0 is off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `FEEDLINE_RATE_LIMIT_POSTS`: CreatePost calls per user per window (default 300).
    pub posts: u32,
    /// `FEEDLINE_RATE_LIMIT_FOLLOWS`: Follow calls per user per window (default 1000).
    pub follows: u32,
    /// `FEEDLINE_RATE_LIMIT_WINDOW_SECS`: the window, 1 s to a day (default an hour).
    pub window: Duration,
    /// `FEEDLINE_REDIS_URL`, where the counts live. Read only when the limiter is on
    /// (authentication on and a limit above 0); None: off, and Redis is never reached.
    pub redis_url: Option<String>,
}

impl RateLimitConfig {
    /// Reads and validates the limits; `authenticated`: whether callers are verified (with
    /// authentication off nobody is limited, so Redis is not needed).
    pub fn from_env(env: &Env, authenticated: bool) -> Result<Self, ConfigError> {
        let posts = ranged_or(
            env,
            "FEEDLINE_RATE_LIMIT_POSTS",
            DEFAULT_POSTS,
            0..=MAX_LIMIT,
        )?;
        let follows = ranged_or(
            env,
            "FEEDLINE_RATE_LIMIT_FOLLOWS",
            DEFAULT_FOLLOWS,
            0..=MAX_LIMIT,
        )?;
        let window = ranged_or(
            env,
            "FEEDLINE_RATE_LIMIT_WINDOW_SECS",
            DEFAULT_WINDOW.as_secs(),
            1..=MAX_WINDOW_SECS,
        )?;
        let on = authenticated && (posts > 0 || follows > 0);
        let redis_url = if on {
            Some(feedline_redis::redis_url(env)?)
        } else {
            None
        };
        Ok(Self {
            posts,
            follows,
            window: Duration::from_secs(window),
            redis_url,
        })
    }

    /// The limit of `quota` per window; 0 is off.
    pub fn limit(&self, quota: Quota) -> u32 {
        match quota {
            Quota::Posts => self.posts,
            Quota::Follows => self.follows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn defaults_need_redis_only_with_authentication() {
        let c = RateLimitConfig::from_env(&Env::new(), true).unwrap();
        assert_eq!((c.posts, c.follows, c.window), (300, 1000, DEFAULT_WINDOW));
        assert_eq!(c.redis_url.as_deref(), Some(feedline_redis::DEFAULT_URL));
        let off = RateLimitConfig::from_env(&Env::new(), false).unwrap();
        assert_eq!(
            off.redis_url, None,
            "nobody is limited without authentication"
        );
    }

    #[test]
    fn zero_turns_a_limit_off_and_both_off_leave_redis_alone() {
        let posts_off = [var("FEEDLINE_RATE_LIMIT_POSTS", "0")].into();
        let c = RateLimitConfig::from_env(&posts_off, true).unwrap();
        assert_eq!((c.limit(Quota::Posts), c.limit(Quota::Follows)), (0, 1000));
        assert!(c.redis_url.is_some());
        // Both off: FEEDLINE_REDIS_URL is not even read, so a bad one does not matter.
        let both: Env = [
            var("FEEDLINE_RATE_LIMIT_POSTS", "0"),
            var("FEEDLINE_RATE_LIMIT_FOLLOWS", "0"),
            var("FEEDLINE_REDIS_URL", "not a url"),
        ]
        .into();
        let c = RateLimitConfig::from_env(&both, true).unwrap();
        assert_eq!(c.redis_url, None);
        assert!(!both.read_names().contains("FEEDLINE_REDIS_URL"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("FEEDLINE_RATE_LIMIT_POSTS", "-1"),
            ("FEEDLINE_RATE_LIMIT_FOLLOWS", "many"),
            ("FEEDLINE_RATE_LIMIT_WINDOW_SECS", "0"),
            ("FEEDLINE_RATE_LIMIT_WINDOW_SECS", "86401"),
            ("FEEDLINE_REDIS_URL", "redis://x:1"),
        ] {
            let env = [var(variable, value)].into();
            let error = RateLimitConfig::from_env(&env, true).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }
}
