//! Turns outbox rows into the events sent: each row's payload, as the writer encoded it, sealed
//! with the row's id, commit time and the trace context of a relay span that continues the trace
//! of the request that wrote the row (after an `outbox.wait` span: `wait`). A payload is read
//! only to check it; it is never encoded again.

use feedline_proto::fanout::v1::{Envelope, OutboxPayload};
use feedline_telemetry::{W3cContext, context_from_w3c, current_trace_context};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::entity::outbox;
use crate::store::AppliedEvent;

/// The ordering key `row`'s payload names (`None` when it names no kind: fanout-service
/// rejects it), or why the payload does not decode: a row this version cannot read goes to the
/// dead-letter table at once, since no retry can help.
pub(super) fn check_row(row: &outbox::Model) -> Result<Option<i64>, String> {
    OutboxPayload::check(&row.payload)
        .map_err(|error| format!("outbox payload does not decode: {error}"))
}

/// The event `row` carries (checked by [`check_row`]), ready to send: its payload sealed with
/// its id, commit time and the trace context of a relay span that continues the writer's trace.
pub(super) fn event_from_row(mut row: outbox::Model, now_ms: i64) -> Vec<u8> {
    let span = tracing::info_span!(
        "outbox.relay.send",
        otel.kind = "producer",
        event_id = row.id,
        event_kind = %row.kind,
        attempts = row.attempts,
        outbox_wait_ms = now_ms - row.created_at_ms,
    );
    let parent = context_from_w3c(&W3cContext {
        traceparent: std::mem::take(&mut row.traceparent),
        tracestate: std::mem::take(&mut row.tracestate),
    });
    super::wait::record(&row, &parent, now_ms, !span.is_disabled());
    let _ = span.set_parent(parent);
    // fanout-service's work becomes a child of this send span, in the writer's trace.
    let context = span.in_scope(current_trace_context);
    Envelope {
        event_id: row.id,
        commit_time_ms: row.created_at_ms,
        traceparent: context.traceparent,
        tracestate: context.tracestate,
        replay: false,
    }
    .seal(row.payload)
}

/// The id and re-sent event of a retained `row`, marked as a replay (it is not counted as lag
/// again, and it starts no trace of its own: the original request's trace ended long ago).
/// `None` when its payload does not decode; a replay skips it.
pub(super) fn replay_from_row(row: AppliedEvent) -> Option<(i64, Vec<u8>)> {
    if let Err(error) = OutboxPayload::check(&row.payload) {
        tracing::error!(event_id = row.id, %error, "outbox payload does not decode");
        return None;
    }
    let envelope = Envelope {
        event_id: row.id,
        commit_time_ms: row.created_at_ms,
        replay: true,
        ..Envelope::default()
    };
    Some((row.id, envelope.seal(row.payload)))
}
