//! One `Fanout` stream: reads batches, hands events to the scheduler, forwards acks in batches.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use feedline_proto::fanout::v1::{FanoutAck, FanoutRequest, FanoutResponse};
use feedline_proto::prost::Message as _;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::AppState;
use super::order::Limits;
use super::scheduler::Scheduler;
use super::window::Window;
use crate::timelines::Timelines;

/// Most acks per response.
const MAX_ACKS_PER_RESPONSE: usize = 1000;
/// Groups of one kind applied at once: one is written while the next fills.
const GROUPS_PER_KIND: usize = 2;
/// Events in one group, at most: bounds one group's pipelines (and its latency).
const GROUP_EVENTS: usize = 256;

/// Serves one stream until the relay closes it, it breaks, or shutdown begins. Events already
/// read are always finished and answered (when the relay still listens) before the stream ends,
/// so shutdown loses nothing and the relay never waits on an answer that will not come.
pub(super) async fn run(
    mut inbound: Streaming<FanoutRequest>,
    timelines: Timelines,
    out: mpsc::Sender<Result<FanoutResponse, Status>>,
    state: Arc<AppState>,
) {
    // Bounds memory whatever the relay sends: past this many unanswered events or bytes the
    // stream is not read, and HTTP/2 flow control pushes back on the sender.
    let window = Window::new(state.max_unacked, state.max_unacked_bytes);
    let (ack_tx, ack_rx) = mpsc::channel::<FanoutAck>(1024);
    let forward = tokio::spawn(forward_acks(ack_rx, out.clone()));
    let limits = Limits {
        units: state.lanes,
        groups_per_kind: GROUPS_PER_KIND,
        group_events: GROUP_EVENTS,
    };
    let scheduler = Scheduler::start(limits, timelines, ack_tx);
    state.streams.fetch_add(1, Ordering::Relaxed);

    'stream: loop {
        let message = tokio::select! {
            _ = state.shutdown.cancelled() => break,
            message = inbound.message() => message,
            request = state.replays.take() => {
                tracing::info!(reason = %request.reason, "asking the relay to replay its outbox window");
                let ask = FanoutResponse { acks: Vec::new(), replay: Some(request.clone()) };
                if out.send(Ok(ask)).await.is_err() {
                    state.replays.post(request); // for the next stream
                    break;
                }
                continue;
            }
        };
        let request = match message {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(status) => {
                tracing::info!(%status, "fanout stream broke");
                break;
            }
        };
        if let Err(status) = super::validate::request_events(&request) {
            let _ = out.send(Err(status)).await;
            break;
        }
        for event in request.events {
            let queued = super::apply::queue_span(&event);
            let room = tokio::select! {
                _ = state.shutdown.cancelled() => break 'stream,
                room = window.admit(event.encoded_len()) => match room {
                    Ok(room) => room,
                    Err(_) => break 'stream,
                },
            };
            scheduler.dispatch(event, room, queued).await;
        }
    }
    state.streams.fetch_sub(1, Ordering::Relaxed);
    // Closing the scheduler lets it finish what it holds; the last ack sender goes with it,
    // which ends `forward_acks`, which drops `out` and so ends the response stream.
    drop(scheduler);
    let _ = forward.await;
}

/// Batches acks into responses: whatever is ready is sent together.
async fn forward_acks(
    mut acks: mpsc::Receiver<FanoutAck>,
    out: mpsc::Sender<Result<FanoutResponse, Status>>,
) {
    while let Some(first) = acks.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_ACKS_PER_RESPONSE {
            match acks.try_recv() {
                Ok(ack) => batch.push(ack),
                Err(_) => break,
            }
        }
        let response = FanoutResponse {
            acks: batch,
            replay: None,
        };
        if out.send(Ok(response)).await.is_err() {
            // The relay is gone; keep draining so the scheduler can finish (their work is idempotent
            // and the relay will resend whatever it did not see answered).
            while acks.recv().await.is_some() {}
            return;
        }
    }
}
