//! [`GroupCommit`]: the bounded queue write calls are submitted through, and the writer task
//! behind it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as SyncMutex};

use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
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
    /// Closed when the writer's thread ends; awaited by `close`.
    stopped: SyncMutex<Option<oneshot::Receiver<()>>>,
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
        let (stopped_tx, stopped) = oneshot::channel::<()>();
        let run = writer::run(writer, rx, closing.clone());
        // A thread of its own: the writer's every statement is a hand-off to sqlx's SQLite
        // thread and back, and on the shared runtime each wake-up queued behind the gRPC
        // handlers' tasks. If it cannot start, the receiver drops and calls answer UNAVAILABLE.
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _stopped = stopped_tx;
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(run),
                    Err(error) => tracing::error!(%error, "starting the SQLite writer"),
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "starting the SQLite writer thread");
        }
        Self {
            intake,
            closing,
            stopped: SyncMutex::new(Some(stopped)),
            committed,
        }
    }

    /// Queues `work` for the next group and waits for its answer, which comes only after the
    /// group's COMMIT. A full queue answers [`Error::QueueFull`] at once.
    pub(crate) async fn submit<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T>> + Send + 'static,
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
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(stopped) = stopped {
            // Never sent: the sender's drop at the thread's end is the signal.
            let _ = stopped.await;
        }
        let (groups, calls) = self.committed();
        tracing::info!(groups, calls, "group-commit writer stopped");
    }
}

/// The answer to a call the writer can no longer take (or, if it died, answer).
fn stopping() -> Error {
    Error::Unavailable("the SQLite writer is stopping".into())
}
