//! One writer of the pool: writes a batch in one transaction, retries it while the failure is
//! retryable and the retry budget lasts, then answers every call in it: its counts once
//! committed, or the error. A batch is never dropped unanswered.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;
use tracing::Instrument as _;

use super::Submission;
use super::faults::{Fault, Faults};
use crate::error::{Error, Result};
use crate::record::{NewRecord, Outcome};
use crate::store::Store;

/// First pause between attempts; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
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

    /// Attempts until the write commits, fails for good, or the retry budget is spent.
    async fn write_with_retry(&self, records: &[NewRecord]) -> Result<Vec<bool>> {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.attempt(records, attempt > 1).await;
            match result {
                Ok(stored) => return Ok(stored),
                Err(e) if e.is_retryable() && started.elapsed() + backoff <= self.retry_for => {
                    tracing::warn!(error = %e, attempt, "batch write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "batch write failed; failing its calls");
                    return Err(e);
                }
            }
        }
    }

    async fn attempt(&self, records: &[NewRecord], retry: bool) -> Result<Vec<bool>> {
        let fault = self.faults.next();
        if fault == Fault::BeforeWrite {
            return Err(Error::Unavailable(
                "injected failure before the write".into(),
            ));
        }
        let stored = self
            .store
            .write_records(records, now_nanos(), retry)
            .await?;
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
