//! Time-ordered 64-bit ids: later ids are larger, so "newest first" is "largest id first" and an
//! id is a stable cursor.
//!
//! Layout (Twitter's snowflake): 41 bits of milliseconds since 2025-01-01 UTC (until 2094),
//! 10 bits of node id (`FEEDLINE_NODE_ID`, distinct per replica of a service), 12 bits of sequence.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// 2025-01-01T00:00:00Z in Unix milliseconds.
const EPOCH_MS: i64 = 1_735_689_600_000;
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
/// Largest valid node id.
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;
const MAX_SEQ: i64 = (1 << SEQ_BITS) - 1;

/// Hands out unique, increasing ids for one node.
#[derive(Debug)]
pub struct IdGenerator {
    node_id: i64,
    /// (last millisecond used, last sequence used in it).
    state: Mutex<(i64, i64)>,
}

impl IdGenerator {
    /// A generator for `node_id` (at most [`MAX_NODE_ID`]; config validates it).
    pub fn new(node_id: u16) -> Self {
        Self {
            node_id: i64::from(node_id.min(MAX_NODE_ID)),
            state: Mutex::new((0, 0)),
        }
    }

    /// The next id and the millisecond it encodes (used as the row's creation time, so a
    /// post's score and its id agree).
    pub fn next(&self) -> (i64, i64) {
        let now = now_ms();
        // A poisoned lock only means another thread panicked between two plain assignments.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last_ms, last_seq) = *state;
        // Never go back in time, even if the wall clock does: ids must keep increasing.
        let (ms, seq) = if now > last_ms {
            (now, 0)
        } else if last_seq < MAX_SEQ {
            (last_ms, last_seq + 1)
        } else {
            // 4096 ids in one millisecond: borrow the next millisecond.
            (last_ms + 1, 0)
        };
        *state = (ms, seq);
        let id = ((ms - EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (self.node_id << SEQ_BITS) | seq;
        (id, ms)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_encode_their_millisecond() {
        let ids = IdGenerator::new(7);
        let mut last = 0;
        for _ in 0..20_000 {
            let (id, ms) = ids.next();
            assert!(id > last, "ids must increase");
            assert!(id > 0);
            assert_eq!(millis_of(id), ms);
            assert_eq!((id >> SEQ_BITS) & i64::from(MAX_NODE_ID), 7);
            last = id;
        }
    }

    #[test]
    fn different_nodes_never_collide_in_the_same_millisecond() {
        let (a, b) = (IdGenerator::new(1), IdGenerator::new(2));
        let ids: std::collections::HashSet<i64> =
            (0..1000).flat_map(|_| [a.next().0, b.next().0]).collect();
        assert_eq!(ids.len(), 2000);
    }
}
