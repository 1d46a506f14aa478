//! Group commit on SQLite: concurrent write calls share one transaction and one COMMIT.
//!
//! SQLite has one writer, and with `synchronous=FULL` (SQLite's default, which sqlx keeps)
//! every COMMIT in WAL mode waits for an fsync of the log; one transaction per call caps writes
//! at the disk's fsync rate, whatever the CPU. Here one task, the writer, takes every call queued
//! when it becomes free (at most [`MAX_GROUP`]; no linger: log-ingest's group commit with one
//! worker) and runs them one after another in one `BEGIN IMMEDIATE` transaction. Should one
//! fail, the group rolls back and runs again with each call inside a SAVEPOINT of its own, so
//! a call that fails rolls back only its own statements (savepoints in every group cost two
//! statements per call; without them Follow went from 4,007 to 5,683/s and CreatePost from
//! 5,070 to 7,448/s, `examples/write_rate.rs`, medians of 3 interleaved). Then one COMMIT, then
//! every call is answered: its own outcome once the COMMIT succeeded, or the COMMIT's error.
//! Acknowledged still means durable.
//!
//! - `call`: one queued call, its work and its reply, type-erased.
//! - `writer`: the task that forms groups and writes them.
//! - `handle`: [`GroupCommit`], the queue calls are submitted through (bounded: full means
//!   RESOURCE_EXHAUSTED at once).

mod call;
mod handle;
#[cfg(test)]
mod tests;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub(crate) use handle::GroupCommit;

/// Calls in one transaction, at most: bounds the time the write gate is held, and so how long
/// the relay's outbox statements wait between groups.
pub(crate) const MAX_GROUP: usize = 256;

/// Calls queued and not yet taken by the writer, at most; past it a call is refused at once.
/// At the writer's pace (thousands of calls per second) a full queue is well under a second.
pub(crate) const MAX_QUEUED: usize = 4096;

/// How long a caller turned away by a full queue is told to wait.
pub(crate) const RETRY_AFTER_FULL: Duration = Duration::from_millis(100);

/// A future borrowing the transaction it runs on.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
