//! Outgoing calls: their deadline, derived from the inbound call's, and the one retry helper
//! (full-jitter exponential backoff, a retry budget shared per dependency, no sleep past the
//! deadline).
//!
//! The deadline rule: an outgoing gRPC, Redis or SQL call made while serving a call gets
//! [`outgoing_timeout`]`(default)`: the smaller of its own per-call default and what is left of
//! the inbound deadline less [`DEADLINE_MARGIN`] (kept to send the answer back). The inbound
//! deadline is the earlier of the caller's `grpc-timeout` and the server's request timeout
//! (`FEEDLINE_REQUEST_TIMEOUT_MS`), set by [`crate::layers::DeadlineLayer`] for the handler's
//! task. Work with no inbound call (fan-out index rebuilds, the log writer, a task spawned off
//! a handler) has no inbound deadline and uses the fixed per-call default.
//!
//! The budget is gRPC's and Finagle's token bucket: each first attempt deposits
//! [`BUDGET_RATIO`] of a token, each retry withdraws a whole one, the bucket holds at most
//! [`BUDGET_CAP`]. An empty bucket means no retry: the error goes back at once. The bucket
//! starts empty, so retries never exceed 20% of the calls made since start (over any later
//! window, 20% plus the cap saved in quiet times): a failing dependency sees at most 1.2x the calls it would see without retries, never the
//! `max_attempts`x of a plain retry loop, however many callers it has.
//!
//! The backoff is hand-written rather than taken from `backon` or `backoff`: it is three lines
//! of arithmetic, and neither crate has a budget or reads the inbound deadline, the two things
//! this module is for.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use tokio::time::Instant;

/// What a first attempt deposits in the budget, in tokens: retries are at most this share of
/// first attempts.
pub const BUDGET_RATIO: f64 = 0.2;
/// The most tokens a budget holds: how many retries a burst of failures after a quiet time may
/// take before the ratio binds.
pub const BUDGET_CAP: u64 = 10;

/// What an outgoing call leaves of the inbound deadline, to carry the answer back.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(20);
/// The shortest outgoing timeout: an inbound deadline already (nearly) spent still gives a
/// positive timeout, so the call fails fast with DEADLINE_EXCEEDED instead of meaning "none".
const MIN_OUTGOING: Duration = Duration::from_millis(1);

tokio::task_local! {
    /// The deadline of the inbound call this task serves; set by [`crate::layers::DeadlineLayer`].
    static INBOUND_DEADLINE: Instant;
}

/// The deadline of the inbound call the current task serves, if any.
pub fn inbound_deadline() -> Option<Instant> {
    INBOUND_DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The timeout for one outgoing call: `default`, shortened to what is left of the inbound
/// deadline less [`DEADLINE_MARGIN`] (at least 1 ms).
pub fn outgoing_timeout(default: Duration) -> Duration {
    match inbound_deadline() {
        None => default,
        Some(deadline) => deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(DEADLINE_MARGIN)
            .clamp(MIN_OUTGOING, default.max(MIN_OUTGOING)),
    }
}

/// An outgoing call given up on: no answer within its timeout ([`within`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no answer within {} ms", .0.as_millis())]
pub struct TimedOut(pub Duration);

/// Runs one outgoing call that has no timeout of its own (a SQL statement, a transaction)
/// under [`outgoing_timeout`]`(default)`: its output, or [`TimedOut`] once that has passed. The
/// call's future is then dropped, as a failed call's would end: the caller takes its usual
/// error path (a transaction dropped uncommitted rolls back).
pub async fn within<F: Future>(default: Duration, call: F) -> Result<F::Output, TimedOut> {
    let timeout = outgoing_timeout(default);
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| TimedOut(timeout))
}

/// An outgoing gRPC request carrying `message`, its `grpc-timeout` set to
/// [`outgoing_timeout`]`(default)`: the callee stops working on it when the caller would stop
/// waiting.
pub fn outgoing_request<T>(message: T, default: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(outgoing_timeout(default));
    request
}

/// Whether a failed gRPC call is worth retrying: UNAVAILABLE only (the call was not taken, or
/// the peer is going away). DEADLINE_EXCEEDED means the time is spent; RESOURCE_EXHAUSTED asks
/// for less load, not more; anything else will fail the same way again.
pub fn is_retryable_status(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable
}

/// A call's `grpc-timeout` (gRPC over HTTP/2: at most 8 digits and a unit), if valid.
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Runs `future` as serving an inbound call due at `deadline`: [`outgoing_timeout`] and
/// [`RetryPolicy::run`] inside it see that deadline.
pub async fn with_deadline<F: Future>(deadline: Instant, future: F) -> F::Output {
    INBOUND_DEADLINE.scope(deadline, future).await
}

/// Budget arithmetic in thousandths of a token, so that it fits an atomic integer.
const MILLI: u64 = 1000;

/// Exponential backoff with full jitter (AWS's "full jitter": uniform in zero to the capped
/// exponential), so that callers failing together do not retry together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling before the first retry.
    pub first: Duration,
    /// The largest ceiling; later retries stay at it.
    pub max: Duration,
}

impl Backoff {
    /// Ceilings from `first`, doubling, up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    /// The ceiling of the delay before retry number `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max)
    }

    /// A delay before retry number `retry`: uniform in `[0, ceiling(retry)]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return ceiling;
        }
        ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

/// A token bucket of retries, shared by every call to one dependency.
#[derive(Debug)]
pub struct RetryBudget {
    /// Thousandths of a token.
    milli_tokens: AtomicU64,
    deposit: u64,
    cap: u64,
}

impl Default for RetryBudget {
    /// [`BUDGET_RATIO`] per call, at most [`BUDGET_CAP`] tokens.
    fn default() -> Self {
        Self::new(BUDGET_RATIO, BUDGET_CAP)
    }
}

impl RetryBudget {
    /// Each first attempt deposits `ratio` tokens; the bucket holds at most `cap`, and starts
    /// empty (a retry is paid for by the calls before it, never by a promise).
    pub fn new(ratio: f64, cap: u64) -> Self {
        let cap = cap.saturating_mul(MILLI);
        Self {
            milli_tokens: AtomicU64::new(0),
            // The ratio is a setting below 1; a negative or NaN one deposits nothing.
            deposit: (ratio.clamp(0.0, 1.0) * MILLI as f64).round() as u64,
            cap,
        }
    }

    /// A first attempt: a deposit, up to the cap.
    pub fn deposit(&self) {
        let _ = self
            .milli_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some((t + self.deposit).min(self.cap))
            });
    }

    /// Takes a whole token for a retry; false (and nothing taken) when there is none.
    pub fn withdraw(&self) -> bool {
        self.milli_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                t.checked_sub(MILLI)
            })
            .is_ok()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(200));

    /// A budget that never runs dry: the control that shows what the budget prevents.
    fn unlimited() -> Arc<RetryBudget> {
        Arc::new(RetryBudget {
            milli_tokens: AtomicU64::new(u64::MAX / 2),
            deposit: 0,
            cap: u64::MAX,
        })
    }

    #[test]
    fn ceilings_double_up_to_the_max() {
        let ceilings: Vec<u128> = (0..7).map(|r| BACKOFF.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 160, 200, 200]);
        assert_eq!(BACKOFF.ceiling(u32::MAX), Duration::from_millis(200));
    }

    #[test]
    fn delays_stay_under_the_ceiling_and_spread_over_it() {
        let delays: Vec<Duration> = (0..1000).map(|_| BACKOFF.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(80)));
        let low = delays
            .iter()
            .filter(|d| **d < Duration::from_millis(20))
            .count();
        let high = delays
            .iter()
            .filter(|d| **d > Duration::from_millis(60))
            .count();
        // Uniform: a quarter each side, far from the 0 that a fixed delay would give.
        assert!(low > 150 && high > 150, "low {low}, high {high}");
    }

    #[test]
    fn a_budget_starts_empty_and_fills_by_the_ratio() {
        let budget = RetryBudget::new(0.2, 2);
        assert!(!budget.withdraw());
        for _ in 0..4 {
            budget.deposit();
        }
        assert!(!budget.withdraw(), "0.8 of a token is no retry");
        budget.deposit();
        assert!(budget.withdraw());
        for _ in 0..100 {
            budget.deposit();
        }
        assert!(
            budget.withdraw() && budget.withdraw() && !budget.withdraw(),
            "capped"
        );
    }

    /// A dependency that always fails: attempts it sees over `calls` calls.
    async fn attempts_against_a_failing_dependency(policy: &RetryPolicy, calls: u64) -> u64 {
        let attempts = AtomicU64::new(0);
        for _ in 0..calls {
            let result: Result<(), String> = policy
                .run_until(
                    None,
                    || async {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        Err("unavailable".to_owned())
                    },
                    |_| true,
                )
                .await;
            assert!(result.is_err());
        }
        attempts.into_inner()
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_caps_amplification_at_1_2x() {
        let policy = RetryPolicy::new("dependency", BACKOFF, 5);
        let calls = 10_000;
        let attempts = attempts_against_a_failing_dependency(&policy, calls).await;
        let amplification = attempts as f64 / calls as f64;
        assert!(
            attempts <= calls * 12 / 10,
            "{attempts} attempts for {calls} calls: {amplification:.3}x"
        );
        // And the budget is used, not a retry-less policy passing by accident.
        assert!(attempts >= calls * 12 / 10 - 1, "{amplification:.3}x");
        assert_eq!(policy.counts(), (calls, attempts - calls));
    }

    #[tokio::test(start_paused = true)]
    async fn without_the_budget_a_loop_would_amplify_by_max_attempts() {
        // The control for the test above: a budget that never runs dry lets every call retry.
        let policy = RetryPolicy::new("dependency", BACKOFF, 5).with_budget(unlimited());
        assert_eq!(
            attempts_against_a_failing_dependency(&policy, 100).await,
            500
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried_and_success_ends_the_run() {
        let policy = RetryPolicy::new("dependency", BACKOFF, 5).with_budget(unlimited());
        let mut tries = 0;
        let result: Result<u32, String> = policy
            .run_until(
                None,
                || {
                    tries += 1;
                    let n = tries;
                    async move {
                        if n < 3 {
                            Err(format!("try {n}"))
                        } else {
                            Ok(n)
                        }
                    }
                },
                |_| true,
            )
            .await;
        assert_eq!(result, Ok(3));
        let mut tries = 0;
        let result: Result<(), String> = policy
            .run_until(
                None,
                || {
                    tries += 1;
                    async { Err("not found".to_owned()) }
                },
                |e| e != "not found",
            )
            .await;
        assert_eq!((result, tries), (Err("not found".to_owned()), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn outgoing_timeouts_follow_the_inbound_deadline() {
        let default = Duration::from_secs(2);
        assert_eq!(outgoing_timeout(default), default, "no inbound call");
        let deadline = Instant::now() + Duration::from_millis(500);
        with_deadline(deadline, async {
            assert_eq!(outgoing_timeout(default), Duration::from_millis(480));
            assert_eq!(
                outgoing_timeout(Duration::from_millis(50)),
                Duration::from_millis(50)
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(outgoing_timeout(default), MIN_OUTGOING, "spent");
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_timeout_is_given_up_on() {
        let stuck = std::future::pending::<()>();
        let start = Instant::now();
        assert_eq!(
            within(Duration::from_secs(5), stuck).await,
            Err(TimedOut(Duration::from_secs(5)))
        );
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert_eq!(within(Duration::from_secs(5), async { 7 }).await, Ok(7));
        let deadline = Instant::now() + Duration::from_millis(500);
        let shortened = with_deadline(
            deadline,
            within(Duration::from_secs(5), async {
                std::future::pending::<()>().await
            }),
        )
        .await;
        assert_eq!(
            shortened,
            Err(TimedOut(Duration::from_millis(480))),
            "the inbound deadline wins"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_backoff_sleeps_past_the_deadline() {
        let policy = RetryPolicy::new(
            "dependency",
            Backoff::new(Duration::from_secs(1), Duration::from_secs(1)),
            100,
        )
        .with_budget(unlimited());
        let start = Instant::now();
        let deadline = start + Duration::from_millis(2500);
        let result: Result<(), String> = policy
            .run_until(
                Some(deadline),
                || async { Err("down".to_owned()) },
                |_| true,
            )
            .await;
        assert!(result.is_err());
        assert!(
            Instant::now() < deadline,
            "returned at {:?}",
            start.elapsed()
        );
    }
}
