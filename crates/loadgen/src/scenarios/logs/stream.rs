//! IngestStream: each sender keeps `in_flight` batches unanswered on one stream, sends a new
//! one for each acknowledged, and sends a batch again after its retry_delay when it is
//! answered RESOURCE_EXHAUSTED or UNAVAILABLE.

use std::pin::Pin;

use futures::stream::{FuturesUnordered, StreamExt as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::app::KeyedClient;
use super::records::batch;
use super::unary::{DEFAULT_RETRY_DELAY, GIVE_UP_AFTER};
use super::wire::Wire;
use crate::stats::Recorder;

/// A batch on the wire: which call it is and when it was first sent.
struct InFlight {
    call: usize,
    first_sent: Instant,
}

/// A batch due again after its retry delay.
type Resend = Pin<Box<dyn Future<Output = (usize, Instant)> + Send>>;

/// Sender `sender`'s stream: `calls` batches of `records` (usize::MAX: no end but `stop`),
/// `in_flight` at a time, until done or `stop`; which of the batches sent were acknowledged.
pub async fn sender(
    mut client: KeyedClient,
    sender: usize,
    shape: (usize, usize, usize),
    recorder: &Recorder,
    stop: &CancellationToken,
) -> Vec<bool> {
    let (calls, records, in_flight) = shape;
    let mut acked = Vec::new();
    let (mut wire, outgoing) = Wire::new();
    let send = |wire: &mut Wire<InFlight>, call: usize, first_sent: Instant| {
        // A closed stream shows up as its end on the response side.
        let _ = wire.send(batch(sender, call, records), InFlight { call, first_sent });
    };
    let mut next_call = 0;
    // Queued before the call opens: the first batches leave with the stream's headers.
    while next_call < calls.min(in_flight) {
        send(&mut wire, next_call, Instant::now());
        acked.push(false);
        next_call += 1;
    }
    let mut responses = match client.ingest_stream(outgoing).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            for _ in 0..next_call {
                recorder.error(
                    "IngestStream",
                    &format!("{:?}", status.code()),
                    status.message(),
                );
            }
            return acked;
        }
    };
    let mut resends: FuturesUnordered<Resend> = FuturesUnordered::new();
    while !(wire.in_flight() == 0 && resends.is_empty()) {
        tokio::select! {
            response = responses.message() => {
                let response = match response {
                    Ok(Some(response)) => response,
                    ended => {
                        let why = match ended {
                            Err(status) => format!("{:?}: {}", status.code(), status.message()),
                            _ => "the stream ended with batches in flight".to_owned(),
                        };
                        for _ in 0..wire.in_flight() + resends.len() {
                            recorder.error("IngestStream", "StreamBroken", &why);
                        }
                        return acked;
                    }
                };
                let Some(batch) = wire.answered(response.request_id) else {
                    recorder.error(
                        "IngestStream",
                        "UnknownRequestId",
                        &format!("a response for request_id {}", response.request_id),
                    );
                    continue;
                };
                match Code::from_i32(response.code) {
                    Code::Ok => {
                        let acknowledged =
                            i64::from(response.accepted) + i64::from(response.duplicates);
                        if acknowledged == records as i64 {
                            recorder.ok("IngestStream", batch.first_sent.elapsed());
                            acked[batch.call] = true;
                        } else {
                            recorder.error(
                                "IngestStream",
                                "ShortAck",
                                &format!("{records} records acknowledged as {acknowledged}"),
                            );
                        }
                        if next_call < calls && !stop.is_cancelled() {
                            send(&mut wire, next_call, Instant::now());
                            acked.push(false);
                            next_call += 1;
                        }
                    }
                    Code::ResourceExhausted | Code::Unavailable
                        if batch.first_sent.elapsed() <= GIVE_UP_AFTER =>
                    {
                        recorder.retry(&format!("{:?}", Code::from_i32(response.code)));
                        let delay = response
                            .retry_delay
                            .and_then(|d| std::time::Duration::try_from(d).ok())
                            .unwrap_or(DEFAULT_RETRY_DELAY);
                        let (call, first_sent) = (batch.call, batch.first_sent);
                        resends.push(Box::pin(async move {
                            tokio::time::sleep(delay).await;
                            (call, first_sent)
                        }));
                    }
                    code => recorder.error("IngestStream", &format!("{code:?}"), &response.message),
                }
            }
            Some((call, first_sent)) = resends.next(), if !resends.is_empty() => {
                send(&mut wire, call, first_sent);
            }
        }
    }
    // Closing our side ends the stream; the server then closes its own.
    drop(wire);
    while let Ok(Some(_)) = responses.message().await {}
    acked
}
