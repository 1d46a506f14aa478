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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use feedline_service_kit::CancellationToken;

use crate::error::{Error, Result};
use crate::ids::now_ms;
use crate::store::{OutboxFront, Store};

/// How far back the drain rate looks.
const DRAIN_WINDOW: Duration = Duration::from_secs(1);
/// What the time per event is multiplied by at each measurement that finds the outbox empty,
/// down to the fastest rate measured so far.
const RELAX_WHEN_EMPTY: f64 = 0.9;
/// Seconds per event assumed until a rate is measured: 1,000 events/s, below what fan-out
/// applies of any kind on the smallest machine measured (2 cores, posts to 500 followers), so
/// the first burst after a start is bounded too; the first busy second replaces it.
const PRIOR_PER_EVENT: f64 = 0.001;

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
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            // Taken first: a write admitted during the measurement counts twice at worst.
            let admitted = self.admitted.load(Ordering::Relaxed);
            match crate::relay::deadline::sql(store.outbox_front()).await {
                Ok(front) => self.record(&mut drain, Instant::now(), front, admitted),
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

/// `feedline.outbox.backlog` and `feedline.outbox.oldest_age`: observable gauges that read the
/// admission watcher's last measurement (no query of their own). Process-wide: the last
/// measurement of any watcher in the process (one per post-service; tests may run several).
mod gauges {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

    use opentelemetry::metrics::ObservableGauge;

    use crate::ids::now_ms;

    /// The last measurement; nothing is reported until there is one.
    pub(super) static LAST: Last = Last {
        measured: AtomicBool::new(false),
        oldest_ms: AtomicI64::new(i64::MAX),
        backlog: AtomicU64::new(0),
    };

    /// What the gauges read.
    pub(super) struct Last {
        measured: AtomicBool,
        /// As `Admission::oldest_ms`: `i64::MAX` for an empty outbox.
        oldest_ms: AtomicI64,
        backlog: AtomicU64,
    }

    impl Last {
        pub(super) fn store(&self, oldest_ms: i64, backlog: u64) {
            self.oldest_ms.store(oldest_ms, Ordering::Relaxed);
            self.backlog.store(backlog, Ordering::Relaxed);
            self.measured.store(true, Ordering::Relaxed);
        }

        fn backlog(&self) -> Option<u64> {
            let measured = self.measured.load(Ordering::Relaxed);
            measured.then(|| self.backlog.load(Ordering::Relaxed))
        }

        /// Seconds since the oldest unapplied event became due; 0 for an empty outbox.
        fn oldest_age(&self) -> Option<f64> {
            if !self.measured.load(Ordering::Relaxed) {
                return None;
            }
            let oldest = self.oldest_ms.load(Ordering::Relaxed);
            if oldest == i64::MAX {
                return Some(0.0);
            }
            Some(now_ms().saturating_sub(oldest).max(0) as f64 / 1000.0)
        }
    }

    /// Registers both gauges with the global meter provider, once per process.
    pub(super) fn register() {
        static GAUGES: OnceLock<(ObservableGauge<u64>, ObservableGauge<f64>)> = OnceLock::new();
        GAUGES.get_or_init(|| {
            let meter = opentelemetry::global::meter("post-service");
            let backlog = meter
                .u64_observable_gauge("feedline.outbox.backlog")
                .with_unit("{event}")
                .with_description("unapplied outbox events, from the oldest due one to the newest")
                .with_callback(|observer| {
                    if let Some(backlog) = LAST.backlog() {
                        observer.observe(backlog, &[]);
                    }
                })
                .build();
            let age = meter
                .f64_observable_gauge("feedline.outbox.oldest_age")
                .with_unit("s")
                .with_description("age of the oldest unapplied outbox event (0 when none)")
                .with_callback(|observer| {
                    if let Some(age) = LAST.oldest_age() {
                        observer.observe(age, &[]);
                    }
                })
                .build();
            (backlog, age)
        });
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_gauges_read_the_last_measurement() {
            let last = Last {
                measured: AtomicBool::new(false),
                oldest_ms: AtomicI64::new(i64::MAX),
                backlog: AtomicU64::new(0),
            };
            assert_eq!((last.backlog(), last.oldest_age()), (None, None));
            last.store(now_ms() - 1500, 7);
            assert_eq!(last.backlog(), Some(7));
            let age = last.oldest_age().unwrap();
            assert!((1.5..5.0).contains(&age), "{age}");
            last.store(i64::MAX, 0);
            assert_eq!((last.backlog(), last.oldest_age()), (Some(0), Some(0.0)));
        }
    }
}

/// How fast fan-out drains the outbox: the rate at which the oldest unapplied id advanced
/// over the last [`DRAIN_WINDOW`], measured only while fan-out was behind all of it (an outbox
/// that empties says nothing of capacity, only of the load offered). Between busy stretches
/// the last rate measured stands: a burst that starts after a quiet moment is judged by it
/// from its first event, not let in for a whole window.
#[derive(Debug, Default)]
struct DrainRate {
    /// When each measurement of the current busy stretch was taken, and its oldest id.
    samples: VecDeque<(Instant, i64)>,
    /// Seconds per event, as last measured.
    per_event: Option<f64>,
    /// The fewest seconds per event measured: how fast fan-out drains when healthy.
    fastest: Option<f64>,
}

impl DrainRate {
    /// Takes a measurement; returns the predicted wait of an event appended now (the backlog
    /// over the drain rate), or None when the outbox is empty.
    fn observe(&mut self, now: Instant, front: Option<OutboxFront>) -> Option<Duration> {
        let Some(front) = front else {
            // Fan-out caught up: the rate last measured may be a slow spell's that is over
            // (a Redis failover, say). Trusted a little less each time, so that admission
            // throttled by a stale rate, which never lets a busy second form to measure a new
            // one, opens up within a second or two; the age bound still holds meanwhile. It
            // relaxes to the fastest rate measured, not past it: a burst after a quiet spell
            // is judged by what fan-out can do, not let in unbounded.
            self.samples.clear();
            // (Or to the prior, when only slow spells were ever measured.)
            let floor = self
                .fastest
                .map_or(PRIOR_PER_EVENT, |f| f.min(PRIOR_PER_EVENT));
            if let Some(per_event) = &mut self.per_event {
                *per_event = (*per_event * RELAX_WHEN_EMPTY).max(floor);
            }
            return None;
        };
        if let Some(per_event) = self.measure(now, front.oldest_id) {
            self.per_event = Some(per_event);
            self.fastest = Some(self.fastest.map_or(per_event, |f| f.min(per_event)));
        }
        let per_event = self.seconds_per_event();
        Some(Duration::from_secs_f64(
            (per_event * front.backlog as f64).min(3600.0),
        ))
    }

    /// Seconds per event as last measured, or the prior before any measurement.
    fn seconds_per_event(&self) -> f64 {
        self.per_event.unwrap_or(PRIOR_PER_EVENT)
    }

    /// Seconds per event over the last window, when fan-out was behind all of it and the
    /// front moved (a front that stood still is a stall, which the oldest event's age shows).
    fn measure(&mut self, now: Instant, oldest_id: i64) -> Option<f64> {
        self.samples.push_back((now, oldest_id));
        // Keep one measurement at least a window old, and none older than it needs.
        while self
            .samples
            .get(1)
            .is_some_and(|&(at, _)| now.duration_since(at) >= DRAIN_WINDOW)
        {
            self.samples.pop_front();
        }
        let &(since, since_id) = self.samples.front()?;
        let elapsed = now.duration_since(since);
        if elapsed < DRAIN_WINDOW {
            return None;
        }
        let drained = oldest_id.saturating_sub(since_id);
        if drained <= 0 {
            return None;
        }
        Some(elapsed.as_secs_f64() / drained as f64)
    }
}

/// How long a refused caller should wait: about the time the backlog needs to shrink back,
/// between 100 ms and 2 s, stretched by up to half at random so that callers refused together
/// do not all come back together.
fn retry_after(excess: Duration) -> Duration {
    let base = excess.clamp(Duration::from_millis(250), Duration::from_secs(2));
    base.mul_f64(rand::random_range(1.0..1.5))
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
        a.admitted_at_measure
            .store(a.admitted.load(Ordering::Relaxed), Ordering::Relaxed);
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
    fn before_a_rate_is_measured_writes_are_judged_by_the_prior() {
        // 1,000 events/s assumed: at a 500 ms bound, about 500 queued events are let in.
        let a = admission(500, 0);
        let mut drain = DrainRate::default();
        let t0 = Instant::now();
        a.record(&mut drain, t0, front(1, 400), 0);
        for _ in 0..=100 {
            assert!(a.check().is_ok(), "up to 400 + 100 queued: 500 ms");
        }
        assert!(
            matches!(a.check(), Err(Error::Overloaded { .. })),
            "501 queued"
        );
        a.record(
            &mut drain,
            t0 + Duration::from_millis(50),
            front(1, 600),
            100,
        );
        assert!(matches!(a.check(), Err(Error::Overloaded { .. })));
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
                assert!(
                    (Duration::from_secs(2)..Duration::from_secs(3)).contains(&retry_after),
                    "{retry_after:?}"
                );
            }
            other => panic!("expected Overloaded, got {other:?}"),
        }
        measured(&a, None, 0);
        assert!(a.check().is_ok(), "an empty outbox has no age");
    }

    fn front(oldest_id: i64, backlog: u64) -> Option<OutboxFront> {
        Some(OutboxFront {
            oldest_id,
            oldest_ms: now_ms(),
            backlog,
        })
    }

    #[test]
    fn the_wait_is_the_backlog_over_the_drain_rate_of_a_busy_second() {
        let mut drain = DrainRate::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Front advancing 1,000 ids/s, a backlog of 3,000 behind it.
        // No busy second yet: the prior's 1,000 events/s.
        let prior = Some(Duration::from_secs(3));
        assert_eq!(drain.observe(at(0), front(1, 3000)), prior, "no rate yet");
        assert_eq!(
            drain.observe(at(500), front(501, 3000)),
            prior,
            "half a window"
        );
        let wait = drain
            .observe(at(1000), front(1001, 3000))
            .expect("a busy second");
        assert_eq!(wait.as_millis(), 3000);
        // The rate follows the last second only: now 2,000 ids/s.
        drain.observe(at(1500), front(2001, 3000));
        let wait = drain
            .observe(at(2000), front(3001, 3000))
            .expect("still busy");
        assert_eq!(wait.as_millis(), 1500);
        // A front that then stands still for a second keeps the last rate it measured (at
        // 2.5 s, over 1.5 s to 2.5 s: 1,000 ids/s); the oldest event's age tells the stall.
        drain.observe(at(2500), front(3001, 3000));
        let wait = drain
            .observe(at(3000), front(3001, 3000))
            .expect("the last rate");
        assert_eq!(wait.as_millis(), 3000);
        // An empty outbox ends the busy stretch; the next burst is judged by the last rate
        // (a little relaxed) until a whole busy second measures a new one (here 200 ids/s).
        assert_eq!(drain.observe(at(3050), None), None);
        let wait = drain
            .observe(at(3100), front(9000, 400))
            .expect("the last rate");
        assert_eq!(wait.as_millis(), 360);
        drain.observe(at(3600), front(9100, 400));
        let wait = drain
            .observe(at(4100), front(9200, 400))
            .expect("a new rate");
        assert_eq!(wait.as_millis(), 2000);
    }

    #[test]
    fn a_slow_rate_relaxes_each_time_the_outbox_is_found_empty() {
        let mut drain = DrainRate::default();
        let t0 = Instant::now();
        // A slow spell: 10 events/s.
        drain.observe(t0, front(1, 100));
        let slow = drain
            .observe(t0 + Duration::from_secs(1), front(11, 100))
            .expect("a busy second");
        assert_eq!(slow.as_millis(), 10_000);
        // Then the outbox keeps emptying between small bursts: 20 measurements (a second at
        // the default refresh) later, the same backlog is predicted 8x faster.
        for i in 0..20 {
            assert_eq!(
                drain.observe(t0 + Duration::from_millis(1050 + i * 50), None),
                None
            );
        }
        let relaxed = drain
            .observe(t0 + Duration::from_secs(3), front(100, 100))
            .expect("the relaxed rate");
        assert!(relaxed < slow / 8, "{relaxed:?}");
    }

    #[test]
    fn before_a_rate_is_measured_the_prior_predicts() {
        let mut drain = DrainRate::default();
        let t0 = Instant::now();
        // 1,000 events/s assumed: 5,000 queued wait 5 s.
        assert_eq!(
            drain.observe(t0, front(1, 5000)),
            Some(Duration::from_secs(5))
        );
        // A front that stood still measures nothing: the prior stays.
        assert_eq!(
            drain.observe(t0 + Duration::from_secs(2), front(1, 9000)),
            Some(Duration::from_secs(9))
        );
    }

    #[test]
    fn relaxing_stops_at_the_fastest_rate_measured() {
        let mut drain = DrainRate::default();
        let t0 = Instant::now();
        // Healthy: 2,000 events in a second. Then a slow spell: 10 in a second.
        drain.observe(t0, front(1, 5000));
        drain.observe(t0 + Duration::from_secs(1), front(2001, 5000));
        drain.observe(t0 + Duration::from_secs(2), front(2011, 5000));
        // Quiet for a long time: relaxes to the healthy rate, not to nothing.
        for i in 0..200 {
            drain.observe(t0 + Duration::from_millis(2050 + i * 50), None);
        }
        let burst = drain
            .observe(t0 + Duration::from_secs(20), front(3000, 500))
            .expect("a prediction");
        assert_eq!(burst.as_millis(), 250);
    }

    #[test]
    fn refuses_when_the_predicted_wait_passes_the_bound_while_the_oldest_is_young() {
        let a = admission(500, 0);
        measured(&a, Some(100), 5000);
        assert!(a.check().is_ok(), "young and no rate known");
        // 1,200 events at 1 ms each.
        measured(&a, Some(100), 1200);
        a.per_event_ns.store(1_000_000, Ordering::Relaxed);
        match a.check() {
            Err(Error::Overloaded {
                reason,
                retry_after,
            }) => {
                assert!(reason.contains("1200 ms behind"), "{reason}");
                assert!(
                    (Duration::from_millis(700)..Duration::from_millis(1050))
                        .contains(&retry_after),
                    "{retry_after:?}"
                );
            }
            other => panic!("expected Overloaded, got {other:?}"),
        }
        measured(&a, Some(100), 400);
        assert!(a.check().is_ok(), "a wait within the bound");
    }

    #[test]
    fn writes_admitted_since_the_last_measurement_count_into_the_wait() {
        let a = admission(500, 0);
        measured(&a, Some(10), 0);
        a.per_event_ns.store(1_000_000, Ordering::Relaxed);
        let admitted = (0..1000).take_while(|_| a.check().is_ok()).count();
        assert_eq!(admitted, 501, "the 501st makes the wait 501 ms");
        // A new measurement takes over from the count.
        measured(&a, Some(10), 100);
        assert!(a.check().is_ok());
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
