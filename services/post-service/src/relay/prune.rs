//! Pruning the retained window: every few seconds, applied events older than
//! `FEEDLINE_OUTBOX_RETENTION_MIN` are deleted from `outbox_applied` in bounded chunks, each
//! under the relay's SQL deadline (a chunk that times out is retried at the next turn).

use std::time::Duration;

use feedline_service_kit::CancellationToken;

use crate::ids::now_ms;
use crate::store::Store;

/// How often the window is pruned.
const EVERY: Duration = Duration::from_secs(5);
/// Rows deleted per statement: bounds the locks and the undo one prune holds.
const CHUNK: u64 = 1000;

/// Prunes until `shutdown`. With a retention of 0 nothing is retained, so this only clears
/// what an earlier configuration kept.
pub(super) async fn run(store: &Store, retention: Duration, shutdown: &CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        let before = now_ms().saturating_sub(retention.as_millis() as i64);
        if let Err(error) = prune(store, before).await {
            tracing::warn!(%error, "pruning applied outbox events");
        }
    }
}

/// Deletes every retained event applied before `before_ms`, a chunk at a time; returns how many.
pub async fn prune(store: &Store, before_ms: i64) -> crate::error::Result<u64> {
    let mut total = 0;
    loop {
        let deleted = super::deadline::sql(store.prune_applied(before_ms, CHUNK)).await?;
        total += deleted;
        if deleted < CHUNK {
            return Ok(total);
        }
    }
}
