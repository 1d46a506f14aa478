//! How fast fan-out drains the outbox, as admission control measures it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::store::OutboxFront;

/// How far back the drain rate looks.
pub(super) const DRAIN_WINDOW: Duration = Duration::from_secs(1);
/// What the time per event is multiplied by at each measurement that finds the outbox empty,
/// down to the fastest rate measured so far.
pub(super) const RELAX_WHEN_EMPTY: f64 = 0.9;
/// Seconds per event assumed until a rate is measured: 1,000 events/s, below what fan-out
/// applies of any kind on the smallest machine measured (2 cores, posts to 500 followers), so
/// the first burst after a start is bounded too; the first busy second replaces it.
pub(super) const PRIOR_PER_EVENT: f64 = 0.001;

/// How fast fan-out drains the outbox: the rate at which the oldest unapplied id advanced
/// over the last [`DRAIN_WINDOW`], measured only while fan-out was behind all of it (an outbox
/// that empties says nothing of capacity, only of the load offered). Between busy stretches
/// the last rate measured stands: a burst that starts after a quiet moment is judged by it
/// from its first event, not let in for a whole window.
#[derive(Debug, Default)]
pub(super) struct DrainRate {
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
    pub(super) fn observe(&mut self, now: Instant, front: Option<OutboxFront>) -> Option<Duration> {
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
    pub(super) fn seconds_per_event(&self) -> f64 {
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
