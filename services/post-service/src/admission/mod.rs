//! Admission control: while the fan-out backlog is past its bound, the writes that enqueue
//! fan-out (CreatePost, DeletePost, Follow, Unfollow) are refused at once, before they touch the
//! database, so a refused call commits nothing and the backlog (and with it the lag every
//! follower sees) stays bounded under any overload.
//!
//! The bound is on the outbox, measured every `refresh`; a check is a few atomic loads. Two
//! figures are held to `max_lag`:
//! - the age of the oldest unapplied event (how late the most delayed follower already is);
//! - the predicted wait of an event appended now: the backlog (the span of ids from the oldest
//!   to the newest, an upper bound that needs no count) over the rate at which the oldest id
//!   advanced during the last second, measured only while fan-out was behind all that second.
//!
//! The age alone lets a burst in while the oldest event is still young: under 500 closed-loop
//! clients and a 500 ms bound, the newest admitted posts then waited 1.3 to 1.9 s (p99 per
//! 10 s window, fanout-service's log). The predicted wait refuses that burst at its start.
//! The backlog's size has a bound of its own, `max_backlog`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use feedline_service_kit::CancellationToken;

use crate::error::{Error, Result};
use crate::ids::now_ms;
use crate::store::{OutboxFront, Store};

mod drain;
mod gauges;
#[cfg(test)]
mod tests;

use drain::DrainRate;

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

/// How often the watcher measures the whole outbox rather than from the last front on.
const FULL_SCAN_EVERY: Duration = Duration::from_secs(1);

/// What the watcher last measured; refuses writes past the bounds once it runs.
#[derive(Debug)]
pub struct Admission {
    config: AdmissionConfig,
    /// Set by the watcher: with no relay in this process nothing drains the outbox here, so
    /// there is nothing to bound.
    active: AtomicBool,
    /// Commit time (Unix ms) of the oldest unapplied event; `i64::MAX` when there is none.
    oldest_ms: AtomicI64,
    /// Unapplied events (an upper bound), as last measured.
    backlog: AtomicU64,
    /// Nanoseconds fan-out takes per event, as last measured; 0 while not known.
    per_event_ns: AtomicU64,
    /// Writes admitted so far; those since the last measurement count into the backlog, so a
    /// burst between two measurements is refused once it would pass the bound, not after.
    admitted: AtomicU64,
    /// `admitted` when the last measurement started.
    admitted_at_measure: AtomicU64,
}

impl Admission {
    /// Admission with these bounds, admitting everything until [`Self::watch`] runs.
    pub fn new(config: AdmissionConfig) -> Self {
        Self {
            config,
            active: AtomicBool::new(false),
            oldest_ms: AtomicI64::new(i64::MAX),
            backlog: AtomicU64::new(0),
            per_event_ns: AtomicU64::new(0),
            admitted: AtomicU64::new(0),
            admitted_at_measure: AtomicU64::new(0),
        }
    }

    /// Ok when a write that enqueues fan-out may go ahead; `Overloaded` (with a retry delay)
    /// when the backlog is past a bound.
    pub fn check(&self) -> Result<()> {
        if !self.active.load(Ordering::Relaxed) {
            return Ok(());
        }
        let oldest = self.oldest_ms.load(Ordering::Relaxed);
        let age = if oldest == i64::MAX {
            Duration::ZERO
        } else {
            Duration::from_millis(u64::try_from(now_ms().saturating_sub(oldest)).unwrap_or(0))
        };
        let since_measured = self
            .admitted
            .load(Ordering::Relaxed)
            .saturating_sub(self.admitted_at_measure.load(Ordering::Relaxed));
        let backlog = self.backlog.load(Ordering::Relaxed) + since_measured;
        let wait =
            Duration::from_nanos(backlog.saturating_mul(self.per_event_ns.load(Ordering::Relaxed)));
        let behind = age.max(wait);
        let max_lag = self.config.max_lag;
        if !max_lag.is_zero() && behind > max_lag {
            return Err(Error::Overloaded {
                reason: format!(
                    "fan-out is {} ms behind (bound {} ms)",
                    behind.as_millis(),
                    max_lag.as_millis()
                ),
                retry_after: retry_after(behind - max_lag),
            });
        }
        let max_backlog = self.config.max_backlog;
        if max_backlog > 0 && backlog > max_backlog {
            return Err(Error::Overloaded {
                reason: format!("{backlog} fan-out events queued (bound {max_backlog})"),
                retry_after: retry_after(Duration::ZERO),
            });
        }
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Measures the outbox every `refresh` until `shutdown`. A failed measurement keeps the
    /// last one (the database's own errors reach callers through their writes); one that takes
    /// longer than the relay's SQL deadline fails, so a stuck query never freezes it.
    pub async fn watch(&self, store: &Store, shutdown: CancellationToken) {
        gauges::register();
        let mut tick = tokio::time::interval(self.config.refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain = DrainRate::default();
        // Measurements look from the last front on (see `Store::outbox_front_from`), and from
        // the start every FULL_SCAN_EVERY: a row below the last front (one that committed
        // after a later id was measured, or one held behind its author's failing event and
        // now released) is counted within that time.
        let mut floor: Option<i64> = None;
        let mut full_scan_at = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            // Taken first: a write admitted during the measurement counts twice at worst.
            let admitted = self.admitted.load(Ordering::Relaxed);
            let from = if full_scan_at.elapsed() >= FULL_SCAN_EVERY {
                full_scan_at = Instant::now();
                None
            } else {
                floor
            };
            match crate::relay::deadline::sql(store.outbox_front_from(from)).await {
                Ok(front) => {
                    floor = front.map(|f| f.oldest_id).or(floor);
                    self.record(&mut drain, Instant::now(), front, admitted);
                }
                Err(error) => tracing::debug!(%error, "measuring the outbox backlog"),
            }
        }
    }
}

impl Admission {
    /// Takes one measurement of the outbox (`admitted`: the count when it started) into
    /// `drain`, and stores what [`Self::check`] judges by.
    fn record(
        &self,
        drain: &mut DrainRate,
        now: Instant,
        front: Option<OutboxFront>,
        admitted: u64,
    ) {
        let wait = drain.observe(now, front);
        let (oldest, backlog) = front.map_or((i64::MAX, 0), |f| (f.oldest_ms, f.backlog));
        // The prior until a rate is measured: `check` predicts with it too.
        let per_event_ns = (drain.seconds_per_event() * 1e9).clamp(1.0, 1e12) as u64;
        self.oldest_ms.store(oldest, Ordering::Relaxed);
        self.backlog.store(backlog, Ordering::Relaxed);
        self.per_event_ns.store(per_event_ns, Ordering::Relaxed);
        self.admitted_at_measure.store(admitted, Ordering::Relaxed);
        gauges::LAST.store(oldest, backlog);
        tracing::trace!(
            age_ms = now_ms().saturating_sub(oldest),
            wait_ms = wait.map_or(0, |w| w.as_millis()),
            backlog,
            "outbox measured"
        );
        self.active.store(true, Ordering::Relaxed);
    }
}

/// How long a refused caller should wait: about the time the backlog needs to shrink back,
/// between 100 ms and 2 s, stretched by up to half at random so that callers refused together
/// do not all come back together.
fn retry_after(excess: Duration) -> Duration {
    let base = excess.clamp(Duration::from_millis(250), Duration::from_secs(2));
    base.mul_f64(rand::random_range(1.0..1.5))
}
