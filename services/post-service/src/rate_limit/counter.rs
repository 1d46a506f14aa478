//! The fixed-window counter in Redis: one key per user and quota (`rl:{user}:posts`), counted
//! and read in one round trip by a Lua script, so the count, and the window it belongs to, are
//! one atomic step on one slot whichever replica asks.
//!
//! A window starts at a user's first counted write and lasts `window`: the key's expiry. So
//! users' windows are not aligned to the clock (no herd of refused callers coming back at the
//! top of the hour), and no replica's clock matters, only Redis's. A refused write is counted
//! too; that changes nothing, since the expiry is set only when the key is new.

use std::time::Duration;

use fred::prelude::Client;
use fred::types::scripts::Script;

/// INCR, then the time left; a key with no expiry (new, or one whose expiry was somehow lost)
/// gets the window. Returns `{count, ms left}`.
const SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  left = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], left)
end
return {count, left}
";

/// A user's writes of one quota in its current window, this one included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// Writes counted in the window so far, this one included.
    pub writes: u64,
    /// Until the window ends (and the count starts again from 0).
    pub left: Duration,
}

/// Counts writes in Redis.
#[derive(Debug)]
pub struct Counter {
    script: Script,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            script: Script::from_lua(SCRIPT),
        }
    }
}

impl Counter {
    /// Counts one write against `key`, whose window (when this write opens one) is `window`.
    /// EVALSHA, loading the script into every master first when a node does not know it.
    pub async fn count(
        &self,
        redis: &Client,
        key: String,
        window: Duration,
    ) -> Result<Count, fred::error::Error> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let reply: Vec<i64> = self
            .script
            .evalsha_with_reload(redis, key, window_ms)
            .await?;
        match reply[..] {
            [writes, left] => Ok(Count {
                writes: u64::try_from(writes).unwrap_or(0),
                left: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
            }),
            _ => Err(fred::error::Error::new(
                fred::error::ErrorKind::Parse,
                format!("rate-limit script answered {reply:?}"),
            )),
        }
    }
}
