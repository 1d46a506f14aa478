//! A replay in progress: the retained window of applied events (`outbox_applied`) re-sent in id
//! order when fanout-service asks (its Redis Cluster changed topology and may have lost writes,
//! or an operator asked). Outlives a session: a broken stream resumes the replay where it stood.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use feedline_proto::fanout::v1::ReplayRequest;

/// Failed rounds in a row (a RETRY each, nothing applied between) before a replay is abandoned.
const MAX_FAILED_ROUNDS: u32 = 20;

/// Where a replay stands.
#[derive(Debug)]
pub(super) struct Replay {
    /// Events applied at or after this time (Unix ms) are re-sent; 0 for the whole window.
    pub since_ms: i64,
    /// The highest id sent so far.
    pub after: i64,
    /// Set after a RETRY (or a broken stream): once nothing of the replay is in flight, resume
    /// after this id, so every event is re-sent in order again from the failed one.
    restart_after: Option<i64>,
    /// No sending before this (backoff after a failed round).
    resume_at: Instant,
    /// Failed rounds since the last applied event.
    failed_rounds: u32,
    /// Events applied again so far, for the log.
    pub applied: u64,
}

impl Replay {
    /// A replay asked for by `request`; it starts once nothing of an earlier one is in flight.
    pub fn new(request: &ReplayRequest) -> Self {
        let since_ms = request
            .since
            .as_ref()
            .and_then(feedline_proto::timestamp_to_millis)
            .unwrap_or(0);
        Self {
            since_ms,
            after: 0,
            restart_after: Some(0),
            resume_at: Instant::now(),
            failed_rounds: 0,
            applied: 0,
        }
    }

    /// True when the next page may be sent: not backing off, and a pending restart applied
    /// (which needs everything of the replay in flight answered first).
    pub fn ready(&mut self, in_flight: &BTreeSet<i64>) -> bool {
        if let Some(restart) = self.restart_after {
            if !in_flight.is_empty() {
                return false;
            }
            self.after = restart;
            self.restart_after = None;
        }
        Instant::now() >= self.resume_at
    }

    /// Records one event applied again.
    pub fn applied(&mut self) {
        self.applied += 1;
        self.failed_rounds = 0;
    }

    /// Records a RETRY of event `id`: the replay resumes from it after a backoff. Returns false
    /// when the replay should be abandoned (it keeps failing).
    pub fn retry(&mut self, id: i64) -> bool {
        if self.restart_after.is_none() {
            self.failed_rounds += 1;
            let backoff = 100u64 << self.failed_rounds.min(7);
            self.resume_at = Instant::now() + Duration::from_millis(backoff.min(10_000));
        }
        self.rewind(id - 1);
        self.failed_rounds <= MAX_FAILED_ROUNDS
    }

    /// Makes the replay resume after `id` at the latest (a stream broke with events in flight).
    pub fn rewind(&mut self, id: i64) {
        let restart = self.restart_after.map_or(id, |r| r.min(id));
        self.restart_after = Some(restart.min(self.after));
    }
}

/// The earlier of two replay requests (the one that covers more), for answers read together.
pub(super) fn earliest(
    a: Option<ReplayRequest>,
    b: Option<ReplayRequest>,
) -> Option<ReplayRequest> {
    let since = |r: &ReplayRequest| {
        r.since
            .as_ref()
            .and_then(feedline_proto::timestamp_to_millis)
            .unwrap_or(0)
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if since(&b) < since(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_resumes_from_the_failed_event_once_nothing_is_in_flight() {
        let mut replay = Replay::new(&ReplayRequest::default());
        assert!(replay.ready(&BTreeSet::new()));
        assert_eq!(replay.after, 0);
        replay.after = 50;
        assert!(replay.retry(20));
        assert!(replay.retry(30), "one round counts once");
        assert_eq!(replay.failed_rounds, 1);
        let busy: BTreeSet<i64> = [40].into();
        assert!(!replay.ready(&busy), "waits for the round to be answered");
        replay.resume_at = Instant::now();
        assert!(replay.ready(&BTreeSet::new()));
        assert_eq!(replay.after, 19, "resends from the first failed event");
        replay.applied();
        assert_eq!(replay.failed_rounds, 0);
    }

    #[test]
    fn a_replay_that_keeps_failing_is_abandoned() {
        let mut replay = Replay::new(&ReplayRequest::default());
        let mut alive = true;
        for round in 0..=MAX_FAILED_ROUNDS {
            assert!(replay.ready(&BTreeSet::new()) || round > 0);
            alive = replay.retry(1);
        }
        assert!(!alive);
    }

    #[test]
    fn the_earliest_request_wins() {
        let at = |ms| ReplayRequest {
            since: Some(feedline_proto::millis_to_timestamp(ms)),
            reason: String::new(),
        };
        assert_eq!(earliest(Some(at(5)), Some(at(3))), Some(at(3)));
        assert_eq!(earliest(None, Some(at(3))), Some(at(3)));
        let whole = ReplayRequest::default();
        assert_eq!(earliest(Some(at(3)), Some(whole.clone())), Some(whole));
    }
}
