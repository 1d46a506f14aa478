//! The scheduler of one stream: takes the events read, starts every unit [`Order`] allows
//! (groups of deliveries, groups of follows, single events) as its own task, and answers each
//! event once its unit finishes.

use feedline_proto::fanout::v1::{FanoutAck, FanoutEvent, FanoutOutcome};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::apply::{apply_group, apply_one};
use super::group::GroupKind;
use super::order::{HasEvent, Limits, Order, Unit};
use super::window::Room;
use crate::timelines::Timelines;

/// Events queued between the stream reader and the scheduler; the stream's unacked limit
/// bounds everything the scheduler holds anyway.
const INBOX: usize = 1024;

/// An event read from the stream and not yet answered.
pub(super) struct Job {
    event: FanoutEvent,
    /// Released once the event is answered: counts against the stream's unacked window.
    _room: Room,
    /// Its `fanout.queue_wait` span, closed when its unit starts.
    queued: tracing::Span,
}

impl HasEvent for Job {
    fn event(&self) -> &FanoutEvent {
        &self.event
    }
}

/// What a finished unit reports back.
struct Finished {
    group: Option<GroupKind>,
    keys: Vec<i64>,
    answers: Vec<FanoutAck>,
    /// The jobs, dropped only once their answers are sent (their permits bound the stream).
    jobs: Vec<Job>,
}

/// The scheduler of one stream. Dropping it closes its inbox: the task finishes what it holds,
/// answers it, then exits (dropping the last ack sender).
pub(super) struct Scheduler {
    inbox: mpsc::Sender<Job>,
}

impl Scheduler {
    /// Starts the scheduler task, answering on `acks`.
    pub(super) fn start(
        limits: Limits,
        timelines: Timelines,
        acks: mpsc::Sender<FanoutAck>,
    ) -> Self {
        let (inbox, jobs) = mpsc::channel(INBOX);
        tokio::spawn(run(jobs, limits, timelines, acks));
        Self { inbox }
    }

    /// Queues `event` behind everything read before it; `queued` (its `fanout.queue_wait`
    /// span) ends when it starts applying.
    pub(super) async fn dispatch(&self, event: FanoutEvent, room: Room, queued: tracing::Span) {
        // Fails only if the scheduler task died, which only a panic does; the event then goes
        // unanswered and the relay resends it after its stream ends.
        let job = Job {
            event,
            _room: room,
            queued,
        };
        let _ = self.inbox.send(job).await;
    }
}

async fn run(
    mut jobs: mpsc::Receiver<Job>,
    limits: Limits,
    timelines: Timelines,
    acks: mpsc::Sender<FanoutAck>,
) {
    let mut order: Order<Job> = Order::new();
    let mut running: FuturesUnordered<JoinHandle<Finished>> = FuturesUnordered::new();
    let mut open = true;
    loop {
        let (units, answered) = order.plan(&limits);
        for (job, ack) in answered {
            // The relay may be gone: the work is idempotent and it resends what it did not see.
            let _ = acks.send(ack).await;
            drop(job);
        }
        for unit in units {
            running.push(tokio::spawn(apply_unit(timelines.clone(), unit)));
        }
        if !open && order.is_idle() {
            return;
        }
        tokio::select! {
            job = jobs.recv(), if open => match job {
                Some(job) => {
                    order.push(job);
                    // Take whatever else is ready, so one plan sees it all.
                    while let Ok(job) = jobs.try_recv() {
                        order.push(job);
                    }
                }
                None => open = false,
            },
            Some(finished) = running.next(), if !running.is_empty() => {
                let finished = match finished {
                    Ok(finished) => finished,
                    // A panic in a unit: its events go unanswered (the relay resends them when
                    // the stream ends); end the stream's work rather than guess at its keys.
                    Err(error) => {
                        tracing::error!(%error, "fanout unit panicked");
                        return;
                    }
                };
                let retried: Vec<(i64, i64)> = finished
                    .answers
                    .iter()
                    .zip(&finished.jobs)
                    .filter(|(ack, _)| ack.outcome == FanoutOutcome::Retry as i32)
                    .filter_map(|(ack, job)| Some((job.event.ordering_key()?, ack.event_id)))
                    .collect();
                order.finish(finished.group, &finished.keys, &retried);
                for ack in finished.answers {
                    let _ = acks.send(ack).await;
                }
                drop(finished.jobs);
            }
        }
    }
}

/// Applies one unit: a group as one, or a single event.
async fn apply_unit(timelines: Timelines, mut unit: Unit<Job>) -> Finished {
    // The wait is over: its spans end here, where the `fanout.apply` spans begin.
    for job in &mut unit.jobs {
        drop(std::mem::replace(&mut job.queued, tracing::Span::none()));
    }
    let events: Vec<&FanoutEvent> = unit.jobs.iter().map(|job| &job.event).collect();
    let answers = match unit.group {
        Some(kind) => apply_group(&timelines, kind, &events).await,
        None => {
            let mut answers = Vec::with_capacity(events.len());
            for event in &events {
                answers.push(apply_one(&timelines, event).await);
            }
            answers
        }
    };
    drop(events);
    Finished {
        group: unit.group,
        keys: unit.keys,
        answers,
        jobs: unit.jobs,
    }
}
