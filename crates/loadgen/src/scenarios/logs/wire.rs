//! The sending half of an IngestStream and the batches on it: each batch goes out under a
//! fresh request_id, and a response is matched back to its batch by that id.

use std::collections::HashMap;

use feedline_proto::logs::v1::{IngestStreamRequest, LogRecord};
use futures::channel::mpsc::{TrySendError, UnboundedReceiver, UnboundedSender, unbounded};

/// Batches sent and not yet answered, each remembered as a `B` (which batch, when first sent).
pub struct Wire<B> {
    requests: UnboundedSender<IngestStreamRequest>,
    in_flight: HashMap<u64, B>,
    next_request_id: u64,
}

impl<B> Wire<B> {
    /// A wire and the stream of requests to open the call with. Dropping the wire ends that
    /// stream: the server then closes its side.
    pub fn new() -> (Self, UnboundedReceiver<IngestStreamRequest>) {
        let (requests, outgoing) = unbounded();
        let wire = Self {
            requests,
            in_flight: HashMap::new(),
            next_request_id: 0,
        };
        (wire, outgoing)
    }

    /// Sends `records` under a fresh request_id (a resend is a new request whose records
    /// carry the same client_record_ids, so it stores nothing twice); `batch` is in flight
    /// until answered. Fails only when the stream is closed, and then nothing is in flight.
    pub fn send(
        &mut self,
        records: Vec<LogRecord>,
        batch: B,
    ) -> Result<(), TrySendError<IngestStreamRequest>> {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.requests.unbounded_send(IngestStreamRequest {
            request_id,
            records,
        })?;
        self.in_flight.insert(request_id, batch);
        Ok(())
    }

    /// The batch answered by the response to `request_id`, no longer in flight; None for an
    /// id not sent or already answered.
    pub fn answered(&mut self, request_id: u64) -> Option<B> {
        self.in_flight.remove(&request_id)
    }

    /// Batches sent and not answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
