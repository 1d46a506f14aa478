//! Admission control: while the fan-out backlog is past its bound, the writes that enqueue
//! fan-out (CreatePost, DeletePost, Follow, Unfollow) are refused at once, before they touch the
//! database, so a refused call commits nothing and the backlog (and with it the lag every
//! follower sees) stays bounded under any overload.
//!
//! The bound is on the outbox: the age of its oldest unapplied event, and its size (the span
//! of ids from that event to the newest, an upper bound that needs no count). A watcher reads
//! both every `refresh`; a check is two atomic loads.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use feedline_service_kit::CancellationToken;

use crate::error::{Error, Result};
use crate::ids::now_ms;
use crate::store::Store;

/// The bounds. A zero bound is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// `FEEDLINE_ADMISSION_MAX_LAG_MS`: the oldest unapplied event may be at most this old.
    pub max_lag: Duration,
    /// `FEEDLINE_ADMISSION_MAX_BACKLOG`: at most this many events unapplied.
    pub max_backlog: u64,
    /// `FEEDLINE_ADMISSION_REFRESH_MS`: how often the outbox is measured.
    pub refresh: Duration,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_millis(500),
            max_backlog: 100_000,
            refresh: Duration::from_millis(50),
        }
    }
}

/// What the watcher last measured; refuses writes past the bounds once it runs.
#[derive(Debug)]
pub struct Admission {
    config: AdmissionConfig,
    /// Set by the watcher: with no relay in this process nothing drains the outbox here, so
    /// there is nothing to bound.
    active: AtomicBool,
    /// Commit time (Unix ms) of the oldest unapplied event; `i64::MAX` when there is none.
    oldest_ms: AtomicI64,
    /// Unapplied events (an upper bound).
    backlog: AtomicU64,
}

impl Admission {
    /// Admission with these bounds, admitting everything until [`Self::watch`] runs.
    pub fn new(config: AdmissionConfig) -> Self {
        Self {
            config,
            active: AtomicBool::new(false),
            oldest_ms: AtomicI64::new(i64::MAX),
            backlog: AtomicU64::new(0),
        }
    }

    /// Ok when a write that enqueues fan-out may go ahead; `Overloaded` (with a retry delay)
    /// when the backlog is past a bound.
    pub fn check(&self) -> Result<()> {
        if !self.active.load(Ordering::Relaxed) {
            return Ok(());
        }
        let oldest = self.oldest_ms.load(Ordering::Relaxed);
        let lag =
            Duration::from_millis(u64::try_from(now_ms().saturating_sub(oldest)).unwrap_or(0));
        let max_lag = self.config.max_lag;
        if !max_lag.is_zero() && oldest != i64::MAX && lag > max_lag {
            return Err(Error::Overloaded {
                reason: format!(
                    "fan-out is {} ms behind (bound {} ms)",
                    lag.as_millis(),
                    max_lag.as_millis()
                ),
                retry_after: retry_after(lag - max_lag),
            });
        }
        let backlog = self.backlog.load(Ordering::Relaxed);
        let max_backlog = self.config.max_backlog;
        if max_backlog > 0 && backlog > max_backlog {
            return Err(Error::Overloaded {
                reason: format!("{backlog} fan-out events queued (bound {max_backlog})"),
                retry_after: retry_after(Duration::ZERO),
            });
        }
        Ok(())
    }

    /// Measures the outbox every `refresh` until `shutdown`. A failed measurement keeps the
    /// last one (the database's own errors reach callers through their writes).
    pub async fn watch(&self, store: &Store, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match store.outbox_front().await {
                Ok(front) => {
                    let (oldest, backlog) =
                        front.map_or((i64::MAX, 0), |f| (f.oldest_ms, f.backlog));
                    self.oldest_ms.store(oldest, Ordering::Relaxed);
                    self.backlog.store(backlog, Ordering::Relaxed);
                    self.active.store(true, Ordering::Relaxed);
                }
                Err(error) => tracing::debug!(%error, "measuring the outbox backlog"),
            }
        }
    }
}

/// How long a refused caller should wait: about the time the backlog needs to shrink back,
/// between 100 ms and 2 s.
fn retry_after(excess: Duration) -> Duration {
    excess.clamp(Duration::from_millis(100), Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_lag_ms: u64, max_backlog: u64) -> Admission {
        Admission::new(AdmissionConfig {
            max_lag: Duration::from_millis(max_lag_ms),
            max_backlog,
            refresh: Duration::from_millis(50),
        })
    }

    fn measured(a: &Admission, age_ms: Option<i64>, backlog: u64) {
        let oldest = age_ms.map_or(i64::MAX, |age| now_ms() - age);
        a.oldest_ms.store(oldest, Ordering::Relaxed);
        a.backlog.store(backlog, Ordering::Relaxed);
        a.active.store(true, Ordering::Relaxed);
    }

    #[test]
    fn admits_everything_until_measured() {
        let a = admission(1000, 10);
        a.oldest_ms.store(0, Ordering::Relaxed);
        a.backlog.store(1_000_000, Ordering::Relaxed);
        assert!(a.check().is_ok());
    }

    #[test]
    fn refuses_past_the_age_bound_with_a_retry_delay() {
        let a = admission(1000, 0);
        measured(&a, Some(500), 1_000_000);
        assert!(a.check().is_ok(), "the count bound is off");
        measured(&a, Some(5000), 1);
        match a.check() {
            Err(Error::Overloaded {
                reason,
                retry_after,
            }) => {
                assert!(reason.contains("behind"), "{reason}");
                assert_eq!(retry_after, Duration::from_secs(2));
            }
            other => panic!("expected Overloaded, got {other:?}"),
        }
        measured(&a, None, 0);
        assert!(a.check().is_ok(), "an empty outbox has no age");
    }

    #[test]
    fn refuses_past_the_count_bound() {
        let a = admission(0, 100);
        measured(&a, Some(60_000), 100);
        assert!(a.check().is_ok(), "the age bound is off; 100 is within");
        measured(&a, Some(0), 101);
        assert!(matches!(a.check(), Err(Error::Overloaded { .. })));
    }
}
