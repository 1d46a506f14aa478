//! [`GroupCommit`]: the bounded queue write calls are submitted through, and the writer task
//! behind it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as SyncMutex};

use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::call::{Call, Job};
use super::writer::{self, Committed, Writer};
use super::{BoxFuture, RETRY_AFTER_FULL};
use crate::error::{Error, Result};

/// The submission side of group commit; owned by the store.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// Bounded: a call that does not fit is refused, never left waiting for room.
    intake: mpsc::Sender<Box<dyn Job>>,
    /// Cancelled by [`GroupCommit::close`]: the writer stops taking calls, answers what is
    /// queued, and ends.
    closing: CancellationToken,
    /// The writer task; taken and awaited by `close`.
    task: SyncMutex<Option<JoinHandle<()>>>,
    /// What the writer committed.
    committed: Arc<Committed>,
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl GroupCommit {
    /// Starts the writer over `db`, with room for `queue` waiting calls; it holds `gate` for
    /// each group's transaction and signals `outbox_signal` after each commit.
    pub(crate) fn start(
        db: DatabaseConnection,
        gate: Arc<Mutex<()>>,
        outbox_signal: Arc<Notify>,
        queue: usize,
    ) -> Self {
        let (intake, rx) = mpsc::channel(queue);
        let closing = CancellationToken::new();
        let committed = Arc::new(Committed::default());
        let writer = Writer {
            db,
            gate,
            outbox_signal,
            committed: committed.clone(),
        };
        let task = tokio::spawn(writer::run(writer, rx, closing.clone()));
        Self {
            intake,
            closing,
            task: SyncMutex::new(Some(task)),
            committed,
        }
    }

    /// Queues `work` for the next group and waits for its answer, which comes only after the
    /// group's COMMIT. A full queue answers [`Error::QueueFull`] at once.
    pub(crate) async fn submit<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Call::new(work, reply));
        self.intake.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::QueueFull {
                retry_after: RETRY_AFTER_FULL,
            },
            mpsc::error::TrySendError::Closed(_) => stopping(),
        })?;
        answer.await.map_err(|_| stopping())?
    }

    /// (groups, calls) committed so far.
    pub(crate) fn committed(&self) -> (u64, u64) {
        (
            self.committed.groups.load(Ordering::Relaxed),
            self.committed.calls.load(Ordering::Relaxed),
        )
    }

    /// Stops taking calls and waits until every queued one is answered.
    pub(crate) async fn close(&self) {
        self.closing.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the group-commit writer failed");
        }
        let (groups, calls) = self.committed();
        tracing::info!(groups, calls, "group-commit writer stopped");
    }
}

/// The answer to a call the writer can no longer take (or, if it died, answer).
fn stopping() -> Error {
    Error::Unavailable("the SQLite writer is stopping".into())
}
