//! The deadline of each SQL call the relay makes: background work has no inbound call to take
//! one from, so a lock wait, a stuck connection or a frozen database would otherwise stall the
//! relay (and what it holds) for as long as it lasts.
//!
//! A call past its deadline fails like any failed call (`Error::Unavailable`): a session ends
//! and reconnects with backoff, a lease is not renewed and lapses, a prune waits for its next
//! turn. Nothing is retired on a failure, so no event is lost; the rows the session had claimed
//! are released before the next session claims again (see `super::sessions`).

use std::future::Future;
use std::time::Duration;

use feedline_service_kit::retry::within;

use crate::error::{Error, Result};

/// How long one SQL call of the relay (a claim, a round of acks, a dead-letter move, a prune
/// chunk, a replay page) may take. Far above what a healthy database takes (milliseconds),
/// below the claim lease (`FEEDLINE_RELAY_LEASE_MS`, 10 s by default).
pub const SQL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `call` under [`SQL_TIMEOUT`].
pub async fn sql<T>(call: impl Future<Output = Result<T>>) -> Result<T> {
    sql_within(SQL_TIMEOUT, call).await
}

/// Runs `call` under `timeout` (a lease's calls take theirs from its TTL).
pub async fn sql_within<T>(timeout: Duration, call: impl Future<Output = Result<T>>) -> Result<T> {
    within(timeout, call)
        .await
        .map_err(|timed_out| Error::Unavailable(format!("database call: {timed_out}")))?
}
