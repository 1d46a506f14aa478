//! IngestStream: each sender keeps `in_flight` batches unanswered on one stream, sends a new
//! one for each acknowledged, and sends a batch again after its retry_delay when it is
//! answered RESOURCE_EXHAUSTED or UNAVAILABLE.

use std::collections::HashMap;
use std::pin::Pin;

use feedline_proto::logs::v1::{IngestStreamRequest, IngestStreamResponse};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::stream::{FuturesUnordered, StreamExt as _};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::app::KeyedClient;
use super::records::batch;
use super::unary::{DEFAULT_RETRY_DELAY, GIVE_UP_AFTER};
use crate::stats::Recorder;

/// A batch on the wire: which call it is and when it was first sent.
struct InFlight {
    call: usize,
    first_sent: Instant,
}

/// A batch due again after its retry delay.
type Resend = Pin<Box<dyn Future<Output = (usize, Instant)> + Send>>;

/// Sender `sender`'s stream: `calls` batches of `records`, `in_flight` at a time, until done
/// or `stop`; which batches were acknowledged.
pub async fn sender(
    mut client: KeyedClient,
    sender: usize,
    shape: (usize, usize, usize),
    recorder: &Recorder,
    stop: &CancellationToken,
) -> Vec<bool> {
    let (calls, records, in_flight) = shape;
    let mut acked = vec![false; calls];
    let (requests, outgoing) = unbounded();
    let mut wire = Wire {
        requests,
        in_flight: HashMap::new(),
        next_request_id: 0,
        sender,
        records,
    };
    let mut next_call = 0;
    // Queued before the call opens: the first batches leave with the stream's headers.
    while next_call < calls.min(in_flight) {
        wire.send(next_call, Instant::now());
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
    while !(wire.in_flight.is_empty() && resends.is_empty()) {
        tokio::select! {
            response = responses.message() => {
                let response = match response {
                    Ok(Some(response)) => response,
                    ended => {
                        let why = match ended {
                            Err(status) => format!("{:?}: {}", status.code(), status.message()),
                            _ => "the stream ended with batches in flight".to_owned(),
                        };
                        for _ in 0..wire.in_flight.len() + resends.len() {
                            recorder.error("IngestStream", "StreamBroken", &why);
                        }
                        return acked;
                    }
                };
                let Some(batch) = wire.answered(&response) else {
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
                            wire.send(next_call, Instant::now());
                            next_call += 1;
                        }
                    }
                    Code::ResourceExhausted | Code::Unavailable
                        if batch.first_sent.elapsed() <= GIVE_UP_AFTER =>
                    {
                        recorder.retry();
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
                wire.send(call, first_sent);
            }
        }
    }
    // Closing our side ends the stream; the server then closes its own.
    drop(wire);
    while let Ok(Some(_)) = responses.message().await {}
    acked
}

/// The sending half of a stream and what it has sent but not seen answered.
struct Wire {
    requests: UnboundedSender<IngestStreamRequest>,
    in_flight: HashMap<u64, InFlight>,
    next_request_id: u64,
    sender: usize,
    records: usize,
}

impl Wire {
    /// Sends call `call` under a fresh request_id (a resend carries the same
    /// client_record_ids, so it stores nothing twice).
    fn send(&mut self, call: usize, first_sent: Instant) {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let request = IngestStreamRequest {
            request_id,
            records: batch(self.sender, call, self.records),
        };
        // A closed stream shows up as its end on the response side.
        if self.requests.unbounded_send(request).is_ok() {
            self.in_flight
                .insert(request_id, InFlight { call, first_sent });
        }
    }

    /// The batch `response` answers, no longer in flight.
    fn answered(&mut self, response: &IngestStreamResponse) -> Option<InFlight> {
        self.in_flight.remove(&response.request_id)
    }
}
