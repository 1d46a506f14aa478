//! The writer task: waits for a call, takes the write gate, then takes every call queued by
//! then (at most [`MAX_GROUP`]) and writes them as one group: `BEGIN IMMEDIATE`, every call's
//! statements, one COMMIT; then the outbox signal and the answers. Should a call fail, its
//! statements are mixed with the others': the group rolls back and runs again with a SAVEPOINT
//! per call, so that only the failed call's statements are undone. Savepoints cost two
//! statements per call, as many as a Follow's own writes, so only a group with a failure pays.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait as _,
};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::MAX_GROUP;
use super::call::Job;
use crate::error::Result;

/// Callers' spans linked from one group span, at most.
const MAX_LINKS: usize = 32;

/// What the writer needs of the store.
#[derive(Debug)]
pub(super) struct Writer {
    /// The pool; each group runs on one connection of it.
    pub db: DatabaseConnection,
    /// The store's SQLite write gate, held for each group's transaction so that the relay's
    /// outbox statements run between groups, never inside one.
    pub gate: Arc<Mutex<()>>,
    /// Signalled after each committed group: its calls may have appended outbox rows.
    pub outbox_signal: Arc<Notify>,
    /// Counts what was committed; read through the handle.
    pub committed: Arc<Committed>,
}

/// Groups and calls committed so far.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    pub groups: AtomicU64,
    pub calls: AtomicU64,
}

/// Runs until `closing` is cancelled and every call queued by then is answered.
pub(super) async fn run(
    writer: Writer,
    mut intake: mpsc::Receiver<Box<dyn Job>>,
    closing: CancellationToken,
) {
    let mut closed = false;
    loop {
        let first = tokio::select! {
            // Queued calls are written before closing is noticed; after it, the channel
            // refuses new calls and yields what it holds, then `None`.
            biased;
            job = intake.recv() => match job {
                Some(job) => job,
                None => break,
            },
            () = closing.cancelled(), if !closed => {
                closed = true;
                intake.close();
                continue;
            }
        };
        // The group forms once the gate is ours: calls that arrive while the relay holds it
        // join this group instead of waiting for the next.
        let gate = writer.gate.clone().lock_owned().await;
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match intake.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        writer.write(group).await;
        drop(gate);
    }
}

impl Writer {
    /// `BEGIN IMMEDIATE`: the write lock from the start, so no statement of the group waits
    /// for it halfway.
    async fn begin(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Writes one group (the gate held) and answers each of its calls.
    async fn write(&self, mut group: Vec<Box<dyn Job>>) {
        let span = tracing::info_span!("sqlite.group_commit", calls = group.len());
        // Links, not a parent: one group serves many traces.
        for job in group.iter().take(MAX_LINKS) {
            span.follows_from(job.caller());
        }
        let result = self.transact(&mut group).instrument(span).await;
        if result.is_ok() {
            self.committed.groups.fetch_add(1, Ordering::Relaxed);
            self.committed
                .calls
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            self.outbox_signal.notify_one();
        }
        for job in group {
            job.answer(result.as_ref().map(|_| ()));
        }
    }

    /// One transaction for the whole group, then one COMMIT: first with the calls' statements
    /// only; if a call failed, rolled back and run again with each call in a savepoint of its
    /// own. An error here is the whole group's.
    async fn transact(&self, group: &mut [Box<dyn Job>]) -> Result<()> {
        let txn = self.begin().await?;
        if run_plain(&txn, group).await {
            return Ok(txn.commit().await?);
        }
        txn.rollback().await?;
        if group.len() == 1 {
            // Nothing written; the call's own failure is its answer.
            return Ok(());
        }
        let txn = self.begin().await?;
        match run_calls(&txn, group).await {
            // A COMMIT that fails leaves the transaction to roll back when dropped, before
            // the connection runs anything else; a writer elsewhere waits for it at BEGIN
            // IMMEDIATE (busy timeout).
            Ok(()) => Ok(txn.commit().await?),
            Err(error) => {
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed group");
                }
                Err(error)
            }
        }
    }
}

/// Runs the calls one after another until one fails; whether all succeeded.
async fn run_plain(txn: &DatabaseTransaction, group: &mut [Box<dyn Job>]) -> bool {
    for job in group {
        if !job.run(txn).await {
            return false;
        }
    }
    true
}

/// Runs each call in its own savepoint: released when the call succeeded, rolled back when it
/// failed, so a failed call leaves nothing and the others go on. A savepoint that cannot be
/// opened, released or rolled back means the transaction itself is in doubt: the group fails.
async fn run_calls(txn: &DatabaseTransaction, group: &mut [Box<dyn Job>]) -> Result<()> {
    for job in group {
        let savepoint = txn.begin().await?;
        if job.run(&savepoint).await {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
    }
    Ok(())
}
