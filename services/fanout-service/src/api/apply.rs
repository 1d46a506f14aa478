//! Applying scheduled work: one event, or a group of deliveries or follows, with quick retries,
//! each event in its own `fanout.apply` span, answered with one ack per event.

use std::time::Duration;

use feedline_proto::fanout::v1::{FanoutAck, FanoutEvent, FanoutOutcome};
use feedline_service_kit::Backoff;
use feedline_telemetry::{W3cContext, context_from_w3c};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::group::GroupKind;
use crate::timelines::{Applied, GroupApplied, TimelineError, Timelines};
use crate::{lag, metrics};

/// Attempts per event or group before answering RETRY (the relay then backs off and resends).
const ATTEMPTS: u32 = 3;

/// The `fanout.apply` span of one event, a child of the relay's send in the writer's trace.
fn event_span(event: &FanoutEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "fanout.apply",
        otel.kind = "consumer",
        event_id = event.event_id,
        event_kind = event.kind_label(),
        recipients = tracing::field::Empty,
        pipeline_commands = tracing::field::Empty,
        pipelines = tracing::field::Empty,
        batched_events = tracing::field::Empty,
        lag_ms = tracing::field::Empty,
        attempts = tracing::field::Empty,
    );
    in_writers_trace(span, event)
}

/// The `fanout.queue_wait` span of one event: from when it is read off the stream until its
/// unit starts applying it (waiting for room in the stream's window, then for a lane or for an
/// earlier event of its key). Dropped when the wait ends; a sibling of its `fanout.apply`.
pub(super) fn queue_span(event: &FanoutEvent) -> tracing::Span {
    let span = tracing::info_span!("fanout.queue_wait", event_id = event.event_id);
    in_writers_trace(span, event)
}

/// `span`, made a child of the relay's send that carried `event`, in the writer's trace.
fn in_writers_trace(span: tracing::Span, event: &FanoutEvent) -> tracing::Span {
    if !span.is_disabled() {
        let _ = span.set_parent(context_from_w3c(&W3cContext {
            traceparent: event.traceparent.clone(),
            tracestate: event.tracestate.clone(),
        }));
    }
    span
}

/// Records what was applied on an event's span, and its lag.
fn record(
    span: &tracing::Span,
    event: &FanoutEvent,
    applied: &Applied,
    recipients: usize,
    batched: usize,
    attempts: u32,
) {
    span.record("recipients", recipients);
    span.record("pipeline_commands", applied.commands);
    span.record("pipelines", applied.pipelines);
    span.record("batched_events", batched);
    span.record("attempts", attempts);
    metrics::record_recipients(recipients);
    // A replayed event was counted when first applied; its age now says nothing of the lag.
    if event.replay {
        return;
    }
    if let Some(lag) = event.commit_time.as_ref().and_then(lag::since) {
        span.record("lag_ms", lag.as_millis() as u64);
        lag::record(lag);
    }
}

/// Runs `attempt` up to ATTEMPTS times while it fails transiently (a few writes, so no budget:
/// past them the relay's per-author backoff takes over).
async fn with_retries<T, F, Fut>(mut attempt: F) -> (Result<T, TimelineError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, TimelineError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let result = attempt().await;
        if let Err(TimelineError::Redis(_)) = &result {
            metrics::count_redis_error();
        }
        match result {
            Err(error) if !error.is_permanent() && tries < ATTEMPTS => {
                tracing::debug!(%error, tries, "apply failed; retrying");
                tokio::time::sleep(backoff(tries)).await;
            }
            result => return (result, tries),
        }
    }
}

/// Applies one event with a few quick retries, inside its span.
pub(super) async fn apply_one(timelines: &Timelines, event: &FanoutEvent) -> FanoutAck {
    let span = event_span(event);
    let (result, tries) = with_retries(|| timelines.apply(event))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    match result {
        Ok(applied) => {
            record(&span, event, &applied, applied.recipients, 1, tries);
            answer(event, FanoutOutcome::Applied, "", applied.recipients)
        }
        Err(error) if error.is_permanent() => {
            tracing::error!(%error, "event rejected");
            answer(event, FanoutOutcome::Rejected, &error.to_string(), 0)
        }
        Err(error) => {
            tracing::warn!(%error, tries, "event failed; relay will retry");
            answer(event, FanoutOutcome::Retry, &error.to_string(), 0)
        }
    }
}

/// Applies a group as one; every event keeps its own span (each in its own trace). A
/// malformed event in the group makes it fall back to one-by-one, in order, so only that
/// event is rejected.
pub(super) async fn apply_group(
    timelines: &Timelines,
    kind: GroupKind,
    events: &[&FanoutEvent],
) -> Vec<FanoutAck> {
    let spans: Vec<tracing::Span> = events.iter().map(|e| event_span(e)).collect();
    let (result, tries) = with_retries(|| async {
        match kind {
            GroupKind::Deliveries => timelines.apply_deliveries(events).await,
            GroupKind::Follows => timelines.apply_follows(events).await,
        }
    })
    .instrument(spans[0].clone())
    .await;
    match result {
        Err(error) if error.is_permanent() => {
            drop(spans);
            let mut answers = Vec::with_capacity(events.len());
            for event in events {
                answers.push(apply_one(timelines, event).await);
            }
            answers
        }
        Ok(GroupApplied { total, recipients }) => events
            .iter()
            .zip(&spans)
            .zip(recipients)
            .map(|((event, span), recipients)| {
                let _entered = span.enter();
                record(span, event, &total, recipients, events.len(), tries);
                answer(event, FanoutOutcome::Applied, "", recipients)
            })
            .collect(),
        Err(error) => events
            .iter()
            .zip(&spans)
            .map(|(event, span)| {
                let _entered = span.enter();
                tracing::warn!(%error, tries, "events failed; relay will retry");
                answer(event, FanoutOutcome::Retry, &error.to_string(), 0)
            })
            .collect(),
    }
}

/// A random delay up to 50 ms before the second try, 200 ms before the third (the shared
/// full-jitter [`Backoff`]).
fn backoff(attempt: u32) -> Duration {
    const APPLY: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(200));
    APPLY.delay(attempt.saturating_sub(1))
}

/// The ack of `event`.
pub(super) fn answer(
    event: &FanoutEvent,
    outcome: FanoutOutcome,
    message: &str,
    recipients: usize,
) -> FanoutAck {
    FanoutAck {
        event_id: event.event_id,
        outcome: outcome as i32,
        message: message.to_owned(),
        recipients: i32::try_from(recipients).unwrap_or(i32::MAX),
    }
}
