//! The pipeline's metrics: the queue's depth in records and bytes (observable gauges over every
//! live pipeline of the process), batch sizes, commit latency and records committed. Each
//! instrument is made once, from the global meter provider (a no-op one when export is off).

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter, ObservableGauge};

use super::admission::UseReader;

fn meter() -> Meter {
    opentelemetry::global::meter("log-ingest-service")
}

/// The queues of the pipelines started in this process (one per server; tests run several).
static QUEUES: Mutex<Vec<UseReader>> = Mutex::new(Vec::new());

/// Adds a pipeline's queue to `feedline.ingest.queue.records` and `feedline.ingest.queue.size`
/// (registered on the first call); it drops out once its pipeline is gone.
pub(super) fn watch_queue(queue: UseReader) {
    let mut queues = QUEUES.lock().unwrap_or_else(PoisonError::into_inner);
    queues.retain(UseReader::is_live);
    queues.push(queue);
    drop(queues);
    static GAUGES: OnceLock<[ObservableGauge<u64>; 2]> = OnceLock::new();
    GAUGES.get_or_init(|| {
        let records = meter()
            .u64_observable_gauge("feedline.ingest.queue.records")
            .with_unit("{record}")
            .with_description("records admitted and not yet answered (queued or being written)")
            .with_callback(|observer| observer.observe(queued().0, &[]))
            .build();
        let bytes = meter()
            .u64_observable_gauge("feedline.ingest.queue.size")
            .with_unit("By")
            .with_description("memory of the records admitted and not yet answered")
            .with_callback(|observer| observer.observe(queued().1, &[]))
            .build();
        [records, bytes]
    });
}

/// (records, bytes) held by every live pipeline.
fn queued() -> (u64, u64) {
    let queues = QUEUES.lock().unwrap_or_else(PoisonError::into_inner);
    queues
        .iter()
        .filter_map(UseReader::used)
        .fold((0, 0), |(r, b), (records, bytes)| {
            (r + records as u64, b + bytes as u64)
        })
}

/// Records one batch handed to a writer.
pub(super) fn record_batch(records: usize) {
    static HISTOGRAM: OnceLock<Histogram<u64>> = OnceLock::new();
    HISTOGRAM
        .get_or_init(|| {
            meter()
                .u64_histogram("feedline.ingest.batch.records")
                .with_unit("{record}")
                .with_description("records in one batch written in one transaction")
                .with_boundaries(vec![
                    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0,
                ])
                .build()
        })
        .record(records as u64, &[]);
}

/// Records a batch committed after `took` (its retries included) storing `stored` records.
pub(super) fn record_commit(took: Duration, stored: usize) {
    static INSTRUMENTS: OnceLock<(Histogram<f64>, Counter<u64>)> = OnceLock::new();
    let (duration, committed) = INSTRUMENTS.get_or_init(|| {
        let duration = meter()
            .f64_histogram("feedline.ingest.commit.duration")
            .with_unit("s")
            .with_description("time to write and commit one batch, retries included")
            .with_boundaries(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .build();
        let committed = meter()
            .u64_counter("feedline.ingest.records")
            .with_unit("{record}")
            .with_description("records committed (duplicates of stored records not counted)")
            .build();
        (duration, committed)
    });
    duration.record(took.as_secs_f64(), &[]);
    committed.add(stored as u64, &[]);
}
