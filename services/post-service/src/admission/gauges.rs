//! `feedline.outbox.backlog` and `feedline.outbox.oldest_age`: observable gauges that read the
//! admission watcher's last measurement (no query of their own). Process-wide: the last
//! measurement of any watcher in the process (one per post-service; tests may run several).

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
