//! The batch being formed: closes on size (records or bytes) or when the linger time, started
//! by its first item, runs out (vector's batcher). Pure state; the leader drives it.

use tokio::time::{Duration, Instant};

/// Something with a size in records and bytes.
pub trait Weighed {
    /// Records it holds.
    fn records(&self) -> usize;
    /// Bytes it holds.
    fn bytes(&self) -> usize;
}

/// When a batch closes.
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    /// A batch closes once it holds this many records.
    pub max_records: usize,
    /// ... or this many bytes.
    pub max_bytes: usize,
    /// ... or this long after its first item arrived.
    pub linger: Duration,
}

/// Items of the batch being formed.
#[derive(Debug)]
pub struct Batcher<T> {
    limits: BatchLimits,
    items: Vec<T>,
    records: usize,
    bytes: usize,
    deadline: Option<Instant>,
}

impl<T: Weighed> Batcher<T> {
    /// An empty batch.
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            items: Vec::new(),
            records: 0,
            bytes: 0,
            deadline: None,
        }
    }

    /// Whether `item` can join without passing a limit. An empty batch takes anything, so an
    /// item larger than a batch still goes out (alone).
    pub fn fits(&self, item: &T) -> bool {
        self.items.is_empty()
            || (self.records + item.records() <= self.limits.max_records
                && self.bytes + item.bytes() <= self.limits.max_bytes)
    }

    /// Adds `item`; the first item starts the linger clock.
    pub fn push(&mut self, item: T, now: Instant) {
        if self.items.is_empty() {
            self.deadline = Some(now + self.limits.linger);
        }
        self.records += item.records();
        self.bytes += item.bytes();
        self.items.push(item);
    }

    /// Whether a limit is reached: the batch should go now.
    pub fn is_full(&self) -> bool {
        self.records >= self.limits.max_records || self.bytes >= self.limits.max_bytes
    }

    /// When the batch should go even if not full; `None` while empty.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes the batch, leaving an empty one.
    pub fn take(&mut self) -> Vec<T> {
        self.records = 0;
        self.bytes = 0;
        self.deadline = None;
        std::mem::take(&mut self.items)
    }
}
