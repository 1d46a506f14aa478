//! How calls to one dependency are retried: attempts, backoff and budget together, never
//! sleeping past the inbound deadline.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Backoff, RetryBudget, inbound_deadline, is_retryable_status, outgoing_request};

/// Calls and retries made through one [`RetryPolicy`], to measure amplification.
#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    retries: AtomicU64,
}

/// How calls to one dependency are retried; clone it freely, clones share the budget and counts.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    what: &'static str,
    backoff: Backoff,
    max_attempts: u32,
    budget: Arc<RetryBudget>,
    counts: Arc<Counts>,
}

impl RetryPolicy {
    /// Calls to `what` (a name for logs): up to `max_attempts` attempts each (1 means no retry),
    /// `backoff` between them, under a fresh default [`RetryBudget`].
    pub fn new(what: &'static str, backoff: Backoff, max_attempts: u32) -> Self {
        Self {
            what,
            backoff,
            max_attempts: max_attempts.max(1),
            budget: Arc::default(),
            counts: Arc::default(),
        }
    }

    /// The same policy under `budget` instead (a budget shared by several policies, or a test's).
    pub fn with_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Calls made, and retries among them, since this policy was created.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.calls.load(Ordering::Relaxed),
            self.counts.retries.load(Ordering::Relaxed),
        )
    }

    /// Runs `op` until it succeeds, fails with an error `is_retryable` rejects, runs out of
    /// attempts or budget, or the next backoff would end past the inbound call's deadline
    /// ([`inbound_deadline`]). The last error is returned as it is.
    pub async fn run<T, E, F, Fut>(&self, op: F, is_retryable: impl Fn(&E) -> bool) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_until(inbound_deadline(), op, is_retryable).await
    }

    /// One gRPC call through [`Self::run`]: `call` gets a clone of `client` and a request of
    /// `message` with its timeout set by [`outgoing_request`]; retried on UNAVAILABLE only.
    pub async fn grpc<C, M, T, F, Fut>(
        &self,
        client: &C,
        message: &M,
        default: Duration,
        call: F,
    ) -> Result<T, tonic::Status>
    where
        C: Clone,
        M: Clone,
        F: Fn(C, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let request = || call(client.clone(), outgoing_request(message.clone(), default));
        self.run(request, is_retryable_status)
            .await
            .map(tonic::Response::into_inner)
    }

    /// [`Self::run`] with an explicit `deadline` (None: no deadline, only attempts and budget).
    pub async fn run_until<T, E, F, Fut>(
        &self,
        deadline: Option<Instant>,
        mut op: F,
        is_retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        self.budget.deposit();
        let mut retry = 0;
        loop {
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !is_retryable(&error) || retry + 1 >= self.max_attempts {
                return Err(error);
            }
            let delay = self.backoff.delay(retry);
            if deadline.is_some_and(|d| Instant::now() + delay >= d) {
                tracing::debug!(what = self.what, %error, "no retry: the deadline comes first");
                return Err(error);
            }
            if !self.budget.withdraw() {
                tracing::debug!(what = self.what, %error, "no retry: the retry budget is spent");
                return Err(error);
            }
            self.counts.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(what = self.what, %error, retry, ?delay, "call failed; retrying");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}
