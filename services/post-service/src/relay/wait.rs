//! An event's time in the outbox, from its commit to the relay's send: the `outbox.wait` span
//! in the writer's trace (between the request's span and `outbox.relay.send`), and the
//! `feedline.relay.lag` histogram.

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::entity::outbox;

/// Bucket bounds of the lag, in seconds: fine below a second, coarse up to an outage's minutes.
const LAG_BOUNDS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
];

/// Records that `row` is sent at `now_ms`: its first send is a sample of `feedline.relay.lag`
/// (a resend's wait is mostly its backoff, which the lag would misreport), and, when `parent`
/// (the writer's trace context) is sampled and `traced` (the send span is recorded), an
/// `outbox.wait` span from the commit to now is exported as a child of `parent`.
pub(super) fn record(row: &outbox::Model, parent: &Context, now_ms: i64, traced: bool) {
    let waited = Duration::from_millis(u64::try_from(now_ms - row.created_at_ms).unwrap_or(0));
    if row.attempts == 0 {
        lag_histogram().record(waited.as_secs_f64(), &[]);
    }
    if !traced || !parent.span().span_context().is_sampled() {
        return;
    }
    let committed =
        UNIX_EPOCH + Duration::from_millis(u64::try_from(row.created_at_ms).unwrap_or(0));
    let tracer = tracer();
    let mut span = tracer
        .span_builder("outbox.wait")
        .with_kind(SpanKind::Internal)
        .with_start_time(committed)
        .with_attributes([
            KeyValue::new("event_id", row.id),
            KeyValue::new("event_kind", row.kind.clone()),
            KeyValue::new("attempts", i64::from(row.attempts)),
            KeyValue::new("outbox_wait_ms", waited.as_millis() as i64),
        ])
        .start_with_context(tracer, parent);
    // `waited` is never negative (another replica's clock may be ahead): it ends at or after
    // its start.
    span.end_with_timestamp(committed + waited);
}

/// The tracer of the `outbox.wait` spans: the global provider's, which telemetry installs
/// before the relay starts (a no-op one when export is off). Made once: a tracer per event
/// would cost allocations on the relay's hot path.
fn tracer() -> &'static BoxedTracer {
    static TRACER: OnceLock<BoxedTracer> = OnceLock::new();
    TRACER.get_or_init(|| opentelemetry::global::tracer("post-service"))
}

/// `feedline.relay.lag`, from the global meter provider.
fn lag_histogram() -> &'static Histogram<f64> {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    HISTOGRAM.get_or_init(|| {
        opentelemetry::global::meter("post-service")
            .f64_histogram("feedline.relay.lag")
            .with_unit("s")
            .with_description("time from an event's commit to the relay's first send of it")
            .with_boundaries(LAG_BOUNDS.to_vec())
            .build()
    })
}
