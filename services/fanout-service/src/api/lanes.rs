//! Lanes: events of one author are applied in order, lanes run concurrently.

use std::collections::VecDeque;
use std::time::Duration;

use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{FanoutAck, FanoutEvent, FanoutOutcome};
use feedline_telemetry::{W3cContext, context_from_w3c};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::lag;
use crate::timelines::{Applied, TimelineError, Timelines};

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

/// Most deliveries of one author applied as one (one ZADD per follower carries them all).
const MAX_RUN: usize = 64;

/// One lane: applies its events in order. Consecutive deliveries of one author that are
/// already queued are applied together (the same end state, far fewer Redis commands), which
/// is what lets a busy author's lane keep up. After a failure, later events on the lane are
/// answered RETRY without being applied until the relay resends the failed one (it resends in
/// outbox order), so no event of an author is applied ahead of an earlier one.
async fn lane(mut jobs: mpsc::Receiver<Job>, timelines: Timelines, acks: mpsc::Sender<FanoutAck>) {
    let mut failed_at: Option<i64> = None;
    let mut queued: VecDeque<Job> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match jobs.recv().await {
                Some(job) => queued.push_back(job),
                None => return,
            }
        }
        while queued.len() < MAX_RUN {
            match jobs.try_recv() {
                Ok(job) => queued.push_back(job),
                Err(_) => break,
            }
        }
        let run = take_run(&mut queued);
        let Some(first) = run.first().map(|job| job.event.event_id) else {
            continue;
        };
        if failed_at.is_some_and(|failed| first <= failed) {
            failed_at = None; // the resend has begun
        }
        let answers = if failed_at.is_some() {
            run.iter()
                .map(|job| {
                    let reason = "an earlier event on this lane failed; resend in order";
                    answer(job.event.event_id, FanoutOutcome::Retry, reason, 0)
                })
                .collect()
        } else {
            let answers = match run.as_slice() {
                [job] => vec![apply(&timelines, &job.event).await],
                _ => apply_run(&timelines, &run).await,
            };
            if answers
                .iter()
                .any(|a| a.outcome == FanoutOutcome::Retry as i32)
            {
                failed_at = Some(first);
            }
            answers
        };
        for ack in answers {
            if acks.send(ack).await.is_err() {
                return;
            }
        }
        // `run` drops here: its permits return to the stream's unacked budget.
    }
}

/// The front job, plus the deliveries of the same author queued right behind it.
fn take_run(queued: &mut VecDeque<Job>) -> Vec<Job> {
    let mut run = Vec::new();
    let Some(first) = queued.pop_front() else {
        return run;
    };
    let author = delivery_author(&first.event);
    run.push(first);
    if author.is_none() {
        return run;
    }
    while queued
        .front()
        .is_some_and(|next| delivery_author(&next.event) == author)
    {
        if let Some(job) = queued.pop_front() {
            run.push(job);
        }
    }
    run
}

fn delivery_author(event: &FanoutEvent) -> Option<i64> {
    match &event.kind {
        Some(Kind::DeliverPost(d)) => d.post.as_ref().map(|p| p.author_id),
        _ => None,
    }
}

fn kind_name(event: &FanoutEvent) -> &'static str {
    match &event.kind {
        Some(Kind::DeliverPost(_)) => "deliver_post",
        Some(Kind::RetractPost(_)) => "retract_post",
        Some(Kind::AddFollow(_)) => "add_follow",
        Some(Kind::RemoveFollow(_)) => "remove_follow",
        None => "none",
    }
}

/// The `fanout.apply` span of one event, a child of the relay's send in the writer's trace.
fn event_span(event: &FanoutEvent) -> tracing::Span {
    let span = tracing::info_span!(
        "fanout.apply",
        otel.kind = "consumer",
        event_id = event.event_id,
        event_kind = kind_name(event),
        recipients = tracing::field::Empty,
        pipeline_commands = tracing::field::Empty,
        pipelines = tracing::field::Empty,
        batched_events = tracing::field::Empty,
        lag_ms = tracing::field::Empty,
        attempts = tracing::field::Empty,
    );
    let _ = span.set_parent(context_from_w3c(&W3cContext {
        traceparent: event.traceparent.clone(),
        tracestate: event.tracestate.clone(),
    }));
    span
}

/// Records what was applied on an event's span, and its lag.
fn record(
    span: &tracing::Span,
    event: &FanoutEvent,
    applied: &Applied,
    batched: usize,
    attempts: u32,
) {
    span.record("recipients", applied.recipients);
    span.record("pipeline_commands", applied.commands);
    span.record("pipelines", applied.pipelines);
    span.record("batched_events", batched);
    span.record("attempts", attempts);
    if let Some(lag) = event.commit_time.as_ref().and_then(lag::since) {
        span.record("lag_ms", lag.as_millis() as u64);
        lag::record(lag);
    }
}

/// Runs `attempt` up to ATTEMPTS times while it fails transiently.
async fn with_retries<F, Fut>(mut attempt: F) -> (Result<Applied, TimelineError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Applied, TimelineError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(error) if !error.is_permanent() && tries < ATTEMPTS => {
                tracing::debug!(%error, tries, "apply failed; retrying");
                tokio::time::sleep(backoff(tries)).await;
            }
            result => return (result, tries),
        }
    }
}

/// Applies one event with a few quick retries, inside its span.
async fn apply(timelines: &Timelines, event: &FanoutEvent) -> FanoutAck {
    let span = event_span(event);
    let (result, tries) = with_retries(|| timelines.apply(event))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    outcome(event, result, tries, |applied| {
        record(&span, event, applied, 1, tries)
    })
}

/// Applies a run of one author's deliveries as one; every event keeps its own span (each in its
/// own trace). A malformed event in the run makes it fall back to one-by-one, so only that
/// event is rejected.
async fn apply_run(timelines: &Timelines, run: &[Job]) -> Vec<FanoutAck> {
    let events: Vec<&FanoutEvent> = run.iter().map(|job| &job.event).collect();
    let spans: Vec<tracing::Span> = events.iter().map(|e| event_span(e)).collect();
    let (result, tries) = with_retries(|| timelines.apply_deliveries(&events))
        .instrument(spans[0].clone())
        .await;
    match result {
        Err(error) if error.is_permanent() => {
            drop(spans);
            let mut answers = Vec::with_capacity(run.len());
            for event in events {
                answers.push(apply(timelines, event).await);
            }
            answers
        }
        result => events
            .iter()
            .zip(&spans)
            .map(|(event, span)| {
                let _entered = span.enter();
                match &result {
                    Ok(applied) => {
                        record(span, event, applied, events.len(), tries);
                        answer(
                            event.event_id,
                            FanoutOutcome::Applied,
                            "",
                            applied.recipients,
                        )
                    }
                    Err(error) => {
                        tracing::warn!(%error, tries, "events failed; relay will retry");
                        answer(event.event_id, FanoutOutcome::Retry, &error.to_string(), 0)
                    }
                }
            })
            .collect(),
    }
}

/// The ack for one event's result (logging failures in the event's span).
fn outcome(
    event: &FanoutEvent,
    result: Result<Applied, TimelineError>,
    tries: u32,
    on_applied: impl FnOnce(&Applied),
) -> FanoutAck {
    match result {
        Ok(applied) => {
            on_applied(&applied);
            answer(
                event.event_id,
                FanoutOutcome::Applied,
                "",
                applied.recipients,
            )
        }
        Err(error) if error.is_permanent() => {
            tracing::error!(%error, "event rejected");
            answer(
                event.event_id,
                FanoutOutcome::Rejected,
                &error.to_string(),
                0,
            )
        }
        Err(error) => {
            tracing::warn!(%error, tries, "event failed; relay will retry");
            answer(event.event_id, FanoutOutcome::Retry, &error.to_string(), 0)
        }
    }
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
