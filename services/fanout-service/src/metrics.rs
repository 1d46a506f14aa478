//! The fan-out's metrics besides its lag (`lag`): recipients per event, commands per node
//! pipeline, Redis errors. Each instrument is made once, on first use (after telemetry is
//! installed), from the global meter provider: a no-op one when export is off.

use std::sync::OnceLock;

use opentelemetry::metrics::Histogram;

/// The meter's name, and the `service` attribute of `feedline.redis.errors`.
pub const SERVICE: &str = "fanout-service";

/// Bucket bounds for counts that span one to tens of thousands (followers, commands).
const COUNT_BOUNDS: [f64; 12] = [
    0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10_000.0,
];

fn meter() -> opentelemetry::metrics::Meter {
    opentelemetry::global::meter(SERVICE)
}

/// Records the home timelines one applied event was written into.
pub fn record_recipients(recipients: usize) {
    static HISTOGRAM: OnceLock<Histogram<u64>> = OnceLock::new();
    HISTOGRAM
        .get_or_init(|| {
            meter()
                .u64_histogram("feedline.fanout.recipients")
                .with_unit("{recipient}")
                .with_description("home timelines one applied event was written into")
                .with_boundaries(COUNT_BOUNDS.to_vec())
                .build()
        })
        .record(recipients as u64, &[]);
}

/// Records the commands of one per-node pipeline sent.
pub fn record_pipeline_commands(commands: usize) {
    static HISTOGRAM: OnceLock<Histogram<u64>> = OnceLock::new();
    HISTOGRAM
        .get_or_init(|| {
            meter()
                .u64_histogram("feedline.fanout.pipeline.commands")
                .with_unit("{command}")
                .with_description("commands in one per-node pipeline of timeline writes")
                .with_boundaries(COUNT_BOUNDS.to_vec())
                .build()
        })
        .record(commands as u64, &[]);
}

/// Counts one attempt at applying events that Redis failed (an error or a timeout).
pub fn count_redis_error() {
    feedline_redis::count_error(SERVICE);
}
