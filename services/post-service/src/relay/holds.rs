//! Per-author holds: which authors' events wait behind an earlier event of theirs that failed
//! and is backing off. Only those wait; every other author's events go on.
//!
//! An author's events must apply in order (an unfollow must not be overtaken by an older post's
//! delivery), so when an event answers RETRY its author is held: the relay sends none of the
//! author's later events until the failed one is sent again, after a jittered backoff, or given
//! up on (moved to `outbox_dead`). fanout-service answers RETRY to the author's later events
//! already in flight too; those are knock-on failures and count no attempt.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng as _;

/// The first backoff after a failure; each further failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// One held author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hold {
    /// The failed event; the author's later events wait for it.
    head: i64,
    /// When the head may be sent again (Unix ms); `i64::MAX` once a rescan went looking for it.
    retry_at_ms: i64,
}

/// The held authors (ordering keys: a post's author, a follow's followee) of one session.
#[derive(Debug, Default)]
pub(super) struct Holds {
    by_key: HashMap<i64, Hold>,
}

impl Holds {
    /// Whether row `id` (of ordering key `key`, free to send from `available_at_ms`) may be sent
    /// now. A row still backing off holds its key; a row behind a held event of its key waits.
    /// A row without a key (its payload names none) goes once it is free.
    pub fn pick(&mut self, id: i64, key: Option<i64>, available_at_ms: i64, now_ms: i64) -> bool {
        let Some(key) = key else {
            return available_at_ms <= now_ms;
        };
        if let Some(hold) = self.by_key.get(&key)
            && hold.head < id
        {
            return false;
        }
        if available_at_ms > now_ms {
            self.by_key.insert(
                key,
                Hold {
                    head: id,
                    retry_at_ms: available_at_ms,
                },
            );
            return false;
        }
        self.by_key.remove(&key);
        true
    }

    /// True when `id`'s failure is a knock-on one: an earlier event of `key` failed first.
    pub fn is_knock_on(&self, key: i64, id: i64) -> bool {
        self.by_key.get(&key).is_some_and(|hold| hold.head < id)
    }

    /// Holds `key` behind its failed event `head` until `retry_at_ms`.
    pub fn hold(&mut self, key: i64, head: i64, retry_at_ms: i64) {
        let hold = self.by_key.entry(key).or_insert(Hold { head, retry_at_ms });
        if head <= hold.head {
            *hold = Hold { head, retry_at_ms };
        }
    }

    /// True once a held event's backoff has ended (each such event counts once): the relay
    /// must go back to the front of the outbox, where that event is, and send it again.
    pub fn take_due(&mut self, now_ms: i64) -> bool {
        let mut due = false;
        for hold in self.by_key.values_mut() {
            if hold.retry_at_ms <= now_ms {
                hold.retry_at_ms = i64::MAX;
                due = true;
            }
        }
        due
    }

    /// How many authors are held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }
}

/// The backoff before failed attempt number `attempts` (1 for the first failure) is sent
/// again: 100 ms doubling per attempt, at most 10 s, jittered down by up to half so that events
/// failing together do not come back together. Not the shared full-jitter `Backoff`: a poisoned
/// author's events must wait at least half of each step (the time to dead letter is bounded
/// below, which the dead-letter test relies on; full jitter made it flaky).
pub(super) fn backoff(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let full = FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    let ms = full.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backing_off_event_holds_only_its_own_author() {
        let mut holds = Holds::default();
        let now = 1_000;
        assert!(!holds.pick(1, Some(7), now + 500, now), "backing off");
        assert!(!holds.pick(2, Some(7), now, now), "behind it, same author");
        assert!(holds.pick(3, Some(8), now, now), "another author goes on");
        assert!(holds.pick(4, None, now, now));
        assert!(holds.is_knock_on(7, 2));
        assert!(!holds.is_knock_on(7, 1));
        assert!(!holds.take_due(now + 499));
        assert!(holds.take_due(now + 500));
        assert!(!holds.take_due(now + 501), "counted once");
        // The rescan finds the head free: it goes, and the author's later events behind it.
        assert!(holds.pick(1, Some(7), now + 500, now + 600));
        assert!(holds.pick(2, Some(7), now, now + 600));
        assert_eq!(holds.len(), 0);
    }

    #[test]
    fn the_earliest_failed_event_is_the_head() {
        let mut holds = Holds::default();
        holds.hold(7, 10, 2_000);
        holds.hold(7, 12, 3_000);
        assert!(holds.is_knock_on(7, 12));
        holds.hold(7, 5, 2_500);
        assert!(holds.is_knock_on(7, 10));
        assert!(!holds.pick(6, Some(7), 0, 2_000));
        assert!(holds.pick(5, Some(7), 0, 2_600));
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(
                (50..=100).contains(&(first.as_millis() as u64)),
                "{first:?}"
            );
            let fourth = backoff(4);
            assert!(
                (400..=800).contains(&(fourth.as_millis() as u64)),
                "{fourth:?}"
            );
            let late = backoff(40);
            assert!(
                (5_000..=10_000).contains(&(late.as_millis() as u64)),
                "{late:?}"
            );
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff(8)).collect();
        assert!(spread.len() > 1, "jittered");
    }
}
