//! The queue's budget, in records and in bytes. A call is admitted whole or refused at once
//! (RESOURCE_EXHAUSTED); its permit is returned only when its records are committed or failed
//! back, so the budget bounds everything the pipeline holds, queued or being written.

use std::sync::{Arc, Mutex, Weak};

/// The shared budget.
#[derive(Clone, Debug)]
pub struct Admission {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_records: usize,
    max_bytes: usize,
    /// (records, bytes) held now.
    used: Mutex<(usize, usize)>,
}

/// Records and bytes of one admitted call; given back on drop.
#[derive(Debug)]
pub struct Permit {
    inner: Arc<Inner>,
    records: usize,
    bytes: usize,
}

impl Admission {
    /// A budget of `max_records` records and `max_bytes` bytes.
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_records,
                max_bytes,
                used: Mutex::new((0, 0)),
            }),
        }
    }

    /// Takes `records` and `bytes` from the budget, or `None` when they do not fit now.
    pub fn try_admit(&self, records: usize, bytes: usize) -> Option<Permit> {
        // Never poisoned in practice: nothing between lock and unlock can panic.
        let mut used = self.inner.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.0 + records > self.inner.max_records || used.1 + bytes > self.inner.max_bytes {
            return None;
        }
        used.0 += records;
        used.1 += bytes;
        Some(Permit {
            inner: self.inner.clone(),
            records,
            bytes,
        })
    }

    /// Whether `records` more records would fit now (bytes are checked on admission).
    pub fn has_room(&self, records: usize) -> bool {
        self.used().0 + records <= self.inner.max_records
    }

    /// (records, bytes) held now.
    pub fn used(&self) -> (usize, usize) {
        *self.inner.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A reader of what is held that does not keep the budget alive (for the queue gauges).
    pub(super) fn reader(&self) -> UseReader {
        UseReader(Arc::downgrade(&self.inner))
    }
}

/// Reads a budget's use while the budget lives.
#[derive(Debug)]
pub(super) struct UseReader(Weak<Inner>);

impl UseReader {
    /// (records, bytes) held now; `None` once the budget is gone.
    pub(super) fn used(&self) -> Option<(usize, usize)> {
        let inner = self.0.upgrade()?;
        Some(*inner.used.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the budget still lives.
    pub(super) fn is_live(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = self.inner.used.lock().unwrap_or_else(|p| p.into_inner());
        used.0 -= self.records;
        used.1 -= self.bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_within_both_budgets_and_returns_on_drop() {
        let a = Admission::new(10, 1000);
        let p1 = a.try_admit(6, 100).unwrap();
        assert!(a.try_admit(5, 100).is_none(), "records over budget");
        let p2 = a.try_admit(4, 900).unwrap();
        assert!(a.try_admit(0, 1).is_none(), "bytes over budget");
        assert_eq!(a.used(), (10, 1000));
        drop(p1);
        assert_eq!(a.used(), (4, 900));
        drop(p2);
        assert_eq!(a.used(), (0, 0));
        assert!(a.try_admit(10, 1000).is_some());
    }

    #[test]
    fn a_reader_sees_the_use_while_the_budget_lives() {
        let a = Admission::new(10, 1000);
        let reader = a.reader();
        let permit = a.try_admit(3, 200).unwrap();
        assert_eq!(reader.used(), Some((3, 200)));
        assert!(reader.is_live());
        drop(a);
        assert!(reader.is_live(), "a permit keeps the budget");
        drop(permit);
        assert_eq!(reader.used(), None, "the reader does not keep it");
        assert!(!reader.is_live());
    }
}
