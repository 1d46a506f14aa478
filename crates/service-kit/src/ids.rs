//! Time-ordered 64-bit ids that never repeat: later ids are larger, so "newest first" is
//! "largest id first" and an id is a stable cursor.
//!
//! Layout (Twitter's snowflake): 41 bits of milliseconds since 2025-01-01 UTC (until 2094),
//! 10 bits of node id, 12 bits of sequence. The node id is leased from the service's database
//! ([`lease`]), never shared by two live replicas, and the lease row's high-water mark bounds
//! the milliseconds this generator may use: it issues nothing past the reservation its lease
//! persisted, and a later holder of the node id starts after it. So neither a second replica
//! nor a clock stepped back (while running or across a restart) can repeat an id.

pub mod lease;
mod renewal;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use lease::{LeaseError, LeaseSettings};
pub use renewal::NodeLease;

/// 2025-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_MS: i64 = 1_735_689_600_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
/// Largest valid node id.
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;
const MAX_SEQ: i64 = (1 << SEQ_BITS) - 1;

/// The wall clock the generator reads; a seam so tests can step it back.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// Why no id was issued. The services answer UNAVAILABLE: a retry may succeed shortly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// No node id is leased now (not yet acquired, or the lease was lost).
    #[error("no node id is leased")]
    Unleased,
    /// Every millisecond up to the persisted reservation is used (the clock ran ahead of the
    /// last renewal, or stepped back and the reservation's ids are spent).
    #[error("ids reserved up to {limit_ms} ms are spent; waiting for the lease's renewal")]
    Exhausted {
        /// The last reserved millisecond.
        limit_ms: i64,
    },
}

/// What the current lease allows.
#[derive(Clone, Copy, Debug)]
struct Grant {
    node_id: i64,
    /// The last millisecond persisted as the node's high-water mark: ids stay at or below it.
    limit_ms: i64,
}

/// The generator's state behind its lock.
#[derive(Debug)]
struct State {
    grant: Option<Grant>,
    /// The last millisecond used and the last sequence used in it.
    last_ms: i64,
    last_seq: i64,
}

/// Hands out unique, increasing ids for the node id its lease holds; refuses without one.
#[derive(Debug)]
pub struct IdGenerator {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl IdGenerator {
    /// A generator on the system clock that refuses until a lease grants it a node id.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A generator on `clock` that refuses until a lease grants it a node id.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State {
                grant: None,
                last_ms: 0,
                last_seq: MAX_SEQ,
            }),
            clock,
        }
    }

    /// The clock ids are stamped from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The next id and the millisecond it encodes (used as the row's creation time, so a
    /// post's score and its id agree). Never goes back, even if the wall clock does.
    pub fn next(&self) -> Result<(i64, i64), IdError> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let grant = state.grant.ok_or(IdError::Unleased)?;
        let (ms, seq) = if now > state.last_ms {
            (now, 0)
        } else if state.last_seq < MAX_SEQ {
            (state.last_ms, state.last_seq + 1)
        } else {
            // 4096 ids in one millisecond (or a clock behind): borrow the next millisecond.
            (state.last_ms + 1, 0)
        };
        if ms > grant.limit_ms {
            return Err(IdError::Exhausted {
                limit_ms: grant.limit_ms,
            });
        }
        (state.last_ms, state.last_seq) = (ms, seq);
        let id = ((ms - EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (grant.node_id << SEQ_BITS) | seq;
        Ok((id, ms))
    }

    /// The node id granted now, if any.
    pub fn node_id(&self) -> Option<u16> {
        self.lock().grant.map(|g| g.node_id as u16)
    }

    /// The last millisecond an id was issued at (0 before the first).
    pub fn last_ms(&self) -> i64 {
        self.lock().last_ms
    }

    /// Starts issuing for `node_id`: ids from `start_ms` (after the node's previous high-water
    /// mark) up to `limit_ms`, which the caller has persisted. Ids keep increasing across a
    /// change of node id.
    pub(crate) fn grant(&self, node_id: u16, start_ms: i64, limit_ms: i64) {
        let mut state = self.lock();
        if start_ms > state.last_ms {
            // `last_seq` at its maximum: the next id takes a millisecond after `last_ms`.
            (state.last_ms, state.last_seq) = (start_ms - 1, MAX_SEQ);
        }
        state.grant = Some(Grant {
            node_id: i64::from(node_id.min(MAX_NODE_ID)),
            limit_ms,
        });
    }

    /// Raises the reservation to `limit_ms`, which the caller has persisted; never lowers it.
    pub(crate) fn extend(&self, node_id: u16, limit_ms: i64) {
        let mut state = self.lock();
        if let Some(grant) = &mut state.grant
            && grant.node_id == i64::from(node_id)
        {
            grant.limit_ms = grant.limit_ms.max(limit_ms);
        }
    }

    /// Stops issuing (the lease is lost or released); returns the last millisecond used.
    pub(crate) fn revoke(&self) -> i64 {
        let mut state = self.lock();
        state.grant = None;
        state.last_ms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked between two plain assignments.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(EPOCH_MS)
}

/// The creation millisecond encoded in an id.
pub fn millis_of(id: i64) -> i64 {
    (id >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
}

/// The node id encoded in an id.
pub fn node_of(id: i64) -> u16 {
    ((id >> SEQ_BITS) & i64::from(MAX_NODE_ID)) as u16
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    /// A clock the test sets by hand.
    #[derive(Debug, Default)]
    struct Manual(AtomicI64);

    impl Clock for Manual {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn granted(node: u16) -> IdGenerator {
        let ids = IdGenerator::new();
        let now = now_ms();
        ids.grant(node, now, now + 60_000);
        ids
    }

    #[test]
    fn ids_increase_and_encode_their_millisecond() {
        let ids = granted(7);
        let mut last = 0;
        for _ in 0..20_000 {
            let (id, ms) = ids.next().unwrap();
            assert!(id > last, "ids must increase");
            assert!(id > 0);
            assert_eq!(millis_of(id), ms);
            assert_eq!(node_of(id), 7);
            last = id;
        }
    }

    #[test]
    fn different_nodes_never_collide_in_the_same_millisecond() {
        let (a, b) = (granted(1), granted(2));
        let ids: std::collections::HashSet<i64> = (0..1000)
            .flat_map(|_| [a.next().unwrap().0, b.next().unwrap().0])
            .collect();
        assert_eq!(ids.len(), 2000);
    }

    #[test]
    fn refuses_without_a_lease_and_past_the_reservation() {
        let clock = Arc::new(Manual(AtomicI64::new(EPOCH_MS + 1000)));
        let ids = IdGenerator::with_clock(clock.clone());
        assert_eq!(ids.next(), Err(IdError::Unleased));
        ids.grant(3, EPOCH_MS + 1000, EPOCH_MS + 1001);
        let first = ids.next().unwrap().0;
        // The clock steps back: ids continue from the last millisecond, never below.
        clock.0.store(EPOCH_MS, Ordering::SeqCst);
        let mut last = first;
        let mut issued = 1;
        loop {
            match ids.next() {
                Ok((id, ms)) => {
                    assert!(id > last && ms <= EPOCH_MS + 1001);
                    last = id;
                    issued += 1;
                }
                Err(e) => {
                    assert_eq!(
                        e,
                        IdError::Exhausted {
                            limit_ms: EPOCH_MS + 1001
                        }
                    );
                    break;
                }
            }
        }
        // Two reserved milliseconds hold 4096 ids each.
        assert_eq!(issued, 2 * 4096);
        ids.extend(3, EPOCH_MS + 1002);
        assert!(ids.next().unwrap().0 > last);
        assert_eq!(ids.revoke(), EPOCH_MS + 1002);
        assert_eq!(ids.next(), Err(IdError::Unleased));
    }

    #[test]
    fn a_new_grant_starts_after_the_previous_mark() {
        let clock = Arc::new(Manual(AtomicI64::new(EPOCH_MS + 10)));
        let ids = IdGenerator::with_clock(clock);
        ids.grant(4, EPOCH_MS + 50, EPOCH_MS + 100);
        let (_, ms) = ids.next().unwrap();
        assert_eq!(ms, EPOCH_MS + 50);
    }
}
