//! The ingest pipeline: admission against a bounded budget → the intake channel → one leader
//! forming batches → a bounded pool of writers → each call answered once its records commit.
//!
//! - `admission`: the queue's budget in records and bytes; full means RESOURCE_EXHAUSTED now.
//! - `batcher`: the batch being formed (size, bytes, linger).
//! - `leader`: the task that forms batches and hands them to free writers.
//! - `writer`: one batch in one transaction, retried, answered.
//! - `faults`: injected write failures for tests.
//! - `metrics`: queue depth, batch sizes, commit latency, records committed.

mod admission;
mod batcher;
mod faults;
mod leader;
mod metrics;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use feedline_service_kit::ids::{IdError, IdGenerator};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use admission::{Admission, Permit};
pub use batcher::{BatchLimits, Weighed};
pub use faults::FaultPlan;
pub use writer::now_nanos;

use crate::error::{Error, Result};
use crate::record::{NewRecord, Outcome};
use crate::store::Store;
use faults::Faults;
use writer::Writer;

/// How the pipeline is sized.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// `FEEDLINE_INGEST_QUEUE_RECORDS`: records admitted and not yet answered, at most
    /// (default 200,000).
    pub queue_records: usize,
    /// `FEEDLINE_INGEST_QUEUE_MIB`: their memory, at most (default 128 MiB).
    pub queue_bytes: usize,
    /// `FEEDLINE_INGEST_BATCH_RECORDS`: a batch closes at this many records (default 4000).
    pub batch_records: usize,
    /// `FEEDLINE_INGEST_BATCH_MIB`: ... or this many MiB (default 8).
    pub batch_bytes: usize,
    /// `FEEDLINE_INGEST_LINGER_MS`: ... or this long after its first call (default 0: a free
    /// writer takes the open batch at once; batches grow only while every writer is busy).
    pub linger: Duration,
    /// `FEEDLINE_INGEST_WORKERS`: batches written at once (default 4; at most the pool size
    /// minus one; always 1 on SQLite, which has one writer).
    pub workers: usize,
    /// `FEEDLINE_INGEST_RETRY_MS`: how long a failing batch is retried before its calls get
    /// UNAVAILABLE (default 3000).
    pub retry_for: Duration,
    /// Injected failures, for tests; never set from the environment.
    pub faults: FaultPlan,
}

/// One admitted call on its way through the pipeline.
#[derive(Debug)]
pub struct Submission {
    records: Vec<NewRecord>,
    bytes: usize,
    reply: oneshot::Sender<Result<Outcome>>,
    permit: Permit,
    /// The calling request's span: the batch span links to it, so a trace shows which
    /// batch wrote a call's records.
    caller: Option<tracing::Id>,
}

impl Weighed for Submission {
    fn records(&self) -> usize {
        self.records.len()
    }
    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The handle calls are submitted through; cheap to clone.
#[derive(Clone, Debug)]
pub struct Pipeline {
    intake: mpsc::Sender<Submission>,
    admission: Admission,
    ids: Arc<IdGenerator>,
}

/// How long a caller turned away by a full queue is told to wait.
const RETRY_AFTER_FULL: Duration = Duration::from_millis(200);

impl Pipeline {
    /// Starts the leader; it runs until `closing` is cancelled and everything admitted is
    /// answered. Await the handle to know the pipeline is drained.
    pub fn start(
        config: &PipelineConfig,
        store: Store,
        ids: Arc<IdGenerator>,
        closing: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        // The budget bounds the channel's content already (a call holds at least one record).
        let (intake, rx) = mpsc::channel(config.queue_records.max(1));
        let writer = Arc::new(Writer {
            store,
            retry_for: config.retry_for,
            faults: Faults::new(config.faults),
        });
        let limits = BatchLimits {
            max_records: config.batch_records,
            max_bytes: config.batch_bytes,
            linger: config.linger,
        };
        let leader = tokio::spawn(leader::run(
            rx,
            limits,
            config.workers,
            closing,
            move |batch| writer.clone().write(batch),
        ));
        let admission = Admission::new(config.queue_records, config.queue_bytes);
        metrics::watch_queue(admission.reader());
        let pipeline = Self {
            intake,
            admission,
            ids,
        };
        (pipeline, leader)
    }

    /// Admits one call's validated records and waits until they are committed (their counts)
    /// or failed back. A full queue answers [`Error::QueueFull`] at once, without queueing.
    pub async fn submit(&self, mut records: Vec<NewRecord>) -> Result<Outcome> {
        let bytes: usize = records.iter().map(NewRecord::weight).sum();
        let permit = self
            .admission
            .try_admit(records.len(), bytes)
            .ok_or(Error::QueueFull {
                retry_after: RETRY_AFTER_FULL,
            })?;
        for record in &mut records {
            record.id = self.ids.next()?.0;
        }
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            records,
            bytes,
            reply,
            permit,
            caller: tracing::Span::current().id(),
        };
        self.intake.try_send(submission).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::QueueFull {
                retry_after: RETRY_AFTER_FULL,
            },
            mpsc::error::TrySendError::Closed(_) => Error::ShuttingDown,
        })?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Refuses at once when `records` more could not be admitted now: a cheap check before
    /// the work of validating a call that admission would turn away anyway.
    pub fn check_room(&self, records: usize) -> Result<()> {
        if self.admission.has_room(records) {
            Ok(())
        } else {
            Err(Error::QueueFull {
                retry_after: RETRY_AFTER_FULL,
            })
        }
    }

    /// (records, bytes) admitted and not yet answered.
    pub fn queued(&self) -> (usize, usize) {
        self.admission.used()
    }
}

impl From<IdError> for Error {
    /// No id without a node-id lease: nothing of the call was taken; retryable.
    fn from(error: IdError) -> Self {
        Error::Unavailable(format!("no ids: {error}"))
    }
}
