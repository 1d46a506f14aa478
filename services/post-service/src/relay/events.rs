//! Turns outbox rows into `FanoutEvent`s, each carrying the trace context of a relay span that
//! continues the trace of the request that wrote the row (after an `outbox.wait` span: `wait`).

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::millis_to_timestamp;
use feedline_proto::prost::Message as _;
use feedline_telemetry::{W3cContext, context_from_w3c, current_trace_context};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::entity::outbox;
use crate::store::AppliedEvent;

/// The event `row` carries, or why its payload does not decode (a row this version cannot
/// read: it goes to the dead-letter table at once, since no retry can help).
pub(super) fn decode_row(row: &outbox::Model) -> Result<FanoutEvent, String> {
    FanoutEvent::decode(row.payload.as_slice())
        .map_err(|error| format!("outbox payload does not decode: {error}"))
}

/// The ordering key of `event` (see [`crate::ordering::ordering_key`]); `None` for an event
/// without a kind.
pub(super) fn ordering_key(event: &FanoutEvent) -> Option<i64> {
    event.kind.as_ref().map(crate::ordering::ordering_key)
}

/// Completes `event`, decoded from `row`, for sending: its id, commit time and the trace
/// context of a relay span that continues the writer's trace.
pub(super) fn event_from_row(
    mut row: outbox::Model,
    mut event: FanoutEvent,
    now_ms: i64,
) -> FanoutEvent {
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
    event.event_id = row.id;
    event.commit_time = Some(millis_to_timestamp(row.created_at_ms));
    event.traceparent = context.traceparent;
    event.tracestate = context.tracestate;
    event
}

/// Builds the re-sent event for a retained `row`, marked as a replay (it is not counted as lag
/// again, and it starts no trace of its own: the original request's trace ended long ago).
/// `None` when its payload does not decode; a replay skips it.
pub(super) fn replay_from_row(row: AppliedEvent) -> Option<FanoutEvent> {
    let mut event = decode(row.id, &row.payload)?;
    event.event_id = row.id;
    event.commit_time = Some(millis_to_timestamp(row.created_at_ms));
    event.replay = true;
    Some(event)
}

fn decode(id: i64, payload: &[u8]) -> Option<FanoutEvent> {
    FanoutEvent::decode(payload)
        .inspect_err(
            |error| tracing::error!(event_id = id, %error, "outbox payload does not decode"),
        )
        .ok()
}
