//! One writer of the pool: writes a batch in one transaction, retries it (through the shared
//! [`RetryPolicy`]) while the failure is retryable, `retry_for` lasts and the database's retry
//! budget has a token, then answers every call in it: its counts once committed, or the error.
//! A batch is never dropped unanswered, and never acknowledged before it is committed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use feedline_service_kit::{Backoff, RetryPolicy};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::Submission;
use super::faults::{Fault, Faults};
use crate::error::{Error, Result};
use crate::record::{NewRecord, Outcome};
use crate::store::Store;

/// Pauses between attempts: jittered under a ceiling from 50 ms, doubling to 1 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
/// How long one attempt (one transaction) may take before it counts as failed and retryable.
/// A write is never acknowledged on a timeout: the retry finds out what was committed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries of batch writes: one budget for the process, which writes to one database, so that
/// an outage costs it at most 1.2x the writes, however many writers there are.
static WRITE_RETRY: LazyLock<RetryPolicy> =
    LazyLock::new(|| RetryPolicy::new("database write", BACKOFF, u32::MAX));
/// Calls linked from one batch span, at most (a batch of 4000 one-record calls would
/// otherwise carry 4000 links).
const MAX_LINKS: usize = 128;

/// What every writer shares.
#[derive(Debug)]
pub struct Writer {
    /// The database.
    pub store: Store,
    /// How long a failing batch is retried before its calls are failed back.
    pub retry_for: Duration,
    /// Injected failures (tests only).
    pub faults: Faults,
}

impl Writer {
    /// Writes `batch` and answers each of its calls.
    pub async fn write(self: Arc<Self>, batch: Vec<Submission>) {
        let records: usize = batch.iter().map(|s| s.records.len()).sum();
        super::metrics::record_batch(records);
        let span = tracing::info_span!("write batch", calls = batch.len(), records);
        // Links, not a parent: one batch serves many traces.
        for caller in batch
            .iter()
            .filter_map(|s| s.caller.clone())
            .take(MAX_LINKS)
        {
            span.follows_from(caller);
        }
        async move {
            // Each call's records, end to end, in one slice for one statement.
            let mut all: Vec<NewRecord> = Vec::with_capacity(records);
            let mut bounds = Vec::with_capacity(batch.len());
            let mut replies = Vec::with_capacity(batch.len());
            for submission in batch {
                let start = all.len();
                all.extend(submission.records);
                bounds.push(start..all.len());
                // The permit (queue budget) goes back when the answer does.
                replies.push((submission.reply, submission.permit));
            }
            let result = self.write_with_retry(&all).await;
            for ((reply, permit), range) in replies.into_iter().zip(bounds) {
                let answer = match &result {
                    Ok(stored) => {
                        let accepted = stored[range.clone()].iter().filter(|s| **s).count();
                        Ok(Outcome {
                            accepted: accepted as u32,
                            duplicates: (range.len() - accepted) as u32,
                        })
                    }
                    Err(e) => Err(e.clone()),
                };
                // A caller that went away (deadline, cancel) simply no longer listens.
                let _ = reply.send(answer);
                drop(permit);
            }
        }
        .instrument(span)
        .await
    }

    /// Attempts until the write commits, fails for good, `retry_for` is spent, or the
    /// database's retry budget is.
    async fn write_with_retry(&self, records: &[NewRecord]) -> Result<Vec<bool>> {
        let started = Instant::now();
        let deadline = started + self.retry_for;
        let attempts = AtomicU32::new(0);
        let result = WRITE_RETRY
            .run_until(
                Some(deadline),
                || async {
                    let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
                    let result = self.attempt(records, attempt > 1).await;
                    if let Err(e) = &result {
                        tracing::warn!(error = %e, attempt, "batch write failed");
                    }
                    result
                },
                Error::is_retryable,
            )
            .await;
        match &result {
            Ok(stored) => {
                let committed = stored.iter().filter(|s| **s).count();
                super::metrics::record_commit(started.elapsed(), committed);
            }
            Err(_) => {
                let attempts = attempts.into_inner();
                tracing::warn!(attempts, "batch write gave up; failing its calls");
            }
        }
        result
    }

    async fn attempt(&self, records: &[NewRecord], retry: bool) -> Result<Vec<bool>> {
        let fault = self.faults.next();
        if fault == Fault::BeforeWrite {
            return Err(Error::Unavailable(
                "injected failure before the write".into(),
            ));
        }
        let write = self.store.write_records(records, now_nanos(), retry);
        let stored = tokio::time::timeout(ATTEMPT_TIMEOUT, write)
            .await
            .map_err(|_| {
                Error::Unavailable(format!(
                    "the write took over {} s",
                    ATTEMPT_TIMEOUT.as_secs()
                ))
            })??;
        if fault == Fault::AfterCommit {
            return Err(Error::Unavailable(
                "injected failure after the commit".into(),
            ));
        }
        Ok(stored)
    }
}

/// The wall clock in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
