//! Lanes: events of one author are applied in order, lanes run concurrently.

use std::time::{Duration, Instant};

use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{FanoutAck, FanoutEvent, FanoutOutcome};
use feedline_telemetry::{W3cContext, context_from_w3c};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::lag;
use crate::timelines::Timelines;

/// Attempts per event before answering RETRY (the relay then backs off and resends).
const ATTEMPTS: u32 = 3;
/// Jobs queued per lane; the stream's unacked limit bounds the total anyway.
const LANE_QUEUE: usize = 256;

struct Job {
    event: FanoutEvent,
    /// Released once the event is answered: counts against the stream's unacked limit.
    _permit: OwnedSemaphorePermit,
}

/// The lanes of one stream. Dropping it closes them; each finishes its queue, then exits.
pub(super) struct Lanes {
    senders: Vec<mpsc::Sender<Job>>,
}

impl Lanes {
    /// Starts `count` lane workers answering on `acks`.
    pub(super) fn start(count: usize, timelines: Timelines, acks: mpsc::Sender<FanoutAck>) -> Self {
        let senders = (0..count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(LANE_QUEUE);
                tokio::spawn(lane(rx, timelines.clone(), acks.clone()));
                tx
            })
            .collect();
        Self { senders }
    }

    /// Queues `event` on its author's lane.
    pub(super) async fn dispatch(&self, event: FanoutEvent, permit: OwnedSemaphorePermit) {
        let lane = (ordering_key(&event).unsigned_abs() % self.senders.len() as u64) as usize;
        // Fails only if the lane task died, which only a panic does; the event then goes
        // unanswered and the relay resends it after its stream ends.
        let _ = self.senders[lane]
            .send(Job {
                event,
                _permit: permit,
            })
            .await;
    }
}

/// The author whose events must stay in order: a post's author, a follow's followee.
fn ordering_key(event: &FanoutEvent) -> i64 {
    match &event.kind {
        Some(Kind::DeliverPost(d)) => d.post.as_ref().map_or(0, |p| p.author_id),
        Some(Kind::RetractPost(r)) => r.author_id,
        Some(Kind::AddFollow(f)) => f.followee_id,
        Some(Kind::RemoveFollow(f)) => f.followee_id,
        None => event.event_id,
    }
}

/// One lane: applies its events one at a time. After a failure, later events on the lane are
/// answered RETRY without being applied until the relay resends the failed one (it resends in
/// outbox order), so no event of an author is applied ahead of an earlier one.
async fn lane(mut jobs: mpsc::Receiver<Job>, timelines: Timelines, acks: mpsc::Sender<FanoutAck>) {
    let mut failed_at: Option<i64> = None;
    while let Some(job) = jobs.recv().await {
        let id = job.event.event_id;
        if failed_at.is_some_and(|failed| id <= failed) {
            failed_at = None; // the resend has begun
        }
        let ack = if failed_at.is_some() {
            answer(
                id,
                FanoutOutcome::Retry,
                "an earlier event on this lane failed; resend in order",
                0,
            )
        } else {
            let ack = apply(&timelines, &job.event).await;
            if ack.outcome == FanoutOutcome::Retry as i32 {
                failed_at = Some(id);
            }
            ack
        };
        if acks.send(ack).await.is_err() {
            return;
        }
    }
}

/// Applies one event with a few quick retries, inside a span continuing the writer's trace.
async fn apply(timelines: &Timelines, event: &FanoutEvent) -> FanoutAck {
    let kind = match &event.kind {
        Some(Kind::DeliverPost(_)) => "deliver_post",
        Some(Kind::RetractPost(_)) => "retract_post",
        Some(Kind::AddFollow(_)) => "add_follow",
        Some(Kind::RemoveFollow(_)) => "remove_follow",
        None => "none",
    };
    let span = tracing::info_span!(
        "fanout.apply",
        otel.kind = "consumer",
        event_id = event.event_id,
        event_kind = kind,
        recipients = tracing::field::Empty,
        pipeline_commands = tracing::field::Empty,
        pipelines = tracing::field::Empty,
        lag_ms = tracing::field::Empty,
        attempts = tracing::field::Empty,
    );
    let _ = span.set_parent(context_from_w3c(&W3cContext {
        traceparent: event.traceparent.clone(),
        tracestate: event.tracestate.clone(),
    }));
    async {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match timelines.apply(event).await {
                Ok(applied) => {
                    let span = tracing::Span::current();
                    span.record("recipients", applied.recipients);
                    span.record("pipeline_commands", applied.commands);
                    span.record("pipelines", applied.pipelines);
                    span.record("attempts", attempt);
                    if let Some(lag) = event.commit_time.as_ref().and_then(lag::since) {
                        span.record("lag_ms", lag.as_millis() as u64);
                        lag::record(lag);
                    }
                    tracing::debug!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "event applied"
                    );
                    return answer(
                        event.event_id,
                        FanoutOutcome::Applied,
                        "",
                        applied.recipients,
                    );
                }
                Err(error) if error.is_permanent() => {
                    tracing::error!(%error, "event rejected");
                    return answer(
                        event.event_id,
                        FanoutOutcome::Rejected,
                        &error.to_string(),
                        0,
                    );
                }
                Err(error) if attempt >= ATTEMPTS => {
                    tracing::warn!(%error, attempt, "event failed; relay will retry");
                    return answer(event.event_id, FanoutOutcome::Retry, &error.to_string(), 0);
                }
                Err(error) => {
                    tracing::debug!(%error, attempt, "event failed; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }
    .instrument(span)
    .await
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50 * 4u64.pow(attempt.saturating_sub(1)))
}

fn answer(event_id: i64, outcome: FanoutOutcome, message: &str, recipients: usize) -> FanoutAck {
    FanoutAck {
        event_id,
        outcome: outcome as i32,
        message: message.to_owned(),
        recipients: i32::try_from(recipients).unwrap_or(i32::MAX),
    }
}
