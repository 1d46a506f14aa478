//! Injected write failures, for the tests that prove a failed batch is retried or failed back
//! and never dropped. Off unless a test sets it; not reachable from the environment.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which batch writes fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Every n-th batch write fails (0: never). Alternately the failure comes before the write
    /// (nothing stored) and after the commit (stored, but the writer is told it failed: the
    /// unknown outcome of a connection lost during COMMIT).
    pub fail_one_in: u64,
}

/// Where a write fails, if it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Write normally.
    None,
    /// Fail without writing.
    BeforeWrite,
    /// Write and commit, then report a failure.
    AfterCommit,
}

/// Counts writes against a plan.
#[derive(Debug, Default)]
pub struct Faults {
    plan: FaultPlan,
    writes: AtomicU64,
}

impl Faults {
    /// Faults following `plan`.
    pub fn new(plan: FaultPlan) -> Self {
        Self {
            plan,
            writes: AtomicU64::new(0),
        }
    }

    /// The fault of the next write.
    pub fn next(&self) -> Fault {
        if self.plan.fail_one_in == 0 {
            return Fault::None;
        }
        let n = self.writes.fetch_add(1, Ordering::Relaxed) + 1;
        if !n.is_multiple_of(self.plan.fail_one_in) {
            Fault::None
        } else if (n / self.plan.fail_one_in) % 2 == 1 {
            Fault::BeforeWrite
        } else {
            Fault::AfterCommit
        }
    }
}
