//! Full-jitter exponential backoff, and the token bucket of retries shared by every call to one
//! dependency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;

use super::{BUDGET_CAP, BUDGET_RATIO};

/// Budget arithmetic in thousandths of a token, so that it fits an atomic integer.
pub(super) const MILLI: u64 = 1000;

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
    pub(super) milli_tokens: AtomicU64,
    pub(super) deposit: u64,
    pub(super) cap: u64,
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
