//! IngestStream load: each client keeps a fixed number of batches in flight on one stream,
//! matching responses to batches by request_id, and sends a new batch for each one answered.

use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use feedline_loadgen::scenarios::logs::wire::Wire;
use feedline_proto::logs::v1::IngestStreamResponse;
use futures::stream::{FuturesUnordered, StreamExt as _};
use tonic::Code;

use super::outcome::Outcome;
use super::records;
use crate::logs_app::KeyedClient;

/// When a rejected batch's response carries no retry_delay.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(50);
/// A batch still rejected after this long fails the benchmark rather than hang it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// The shape of the streaming run.
#[derive(Clone, Copy)]
pub struct StreamShape {
    /// Concurrent streams, one client (and connection) each.
    pub clients: usize,
    /// Batches each stream keeps unanswered at any time.
    pub in_flight: usize,
    /// Records per batch.
    pub records: usize,
}

/// Runs `shape.clients` streams for `duration`; batches in flight then finish.
pub async fn run(
    clients: &[KeyedClient],
    shape: StreamShape,
    duration: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let stop = started + duration;
    let tasks: Vec<_> = (0..shape.clients)
        .map(|c| {
            let client = clients[c % clients.len()].clone();
            tokio::spawn(async move { one_stream(client, c, shape, stop).await })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        total.absorb(task.await??);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// A batch on the wire: which one it is and when it was first sent.
struct InFlight {
    seq: u64,
    first_sent: Instant,
}

/// A resend due after a retry delay.
type Resend = Pin<Box<dyn Future<Output = (u64, Instant)> + Send>>;

/// One stream: `in_flight` batches out, a new one for each OK, a delayed resend for each
/// RESOURCE_EXHAUSTED or UNAVAILABLE, until `stop`; then it waits for the last answers.
async fn one_stream(
    mut client: KeyedClient,
    sender: usize,
    shape: StreamShape,
    stop: Instant,
) -> Result<Outcome> {
    let (wire, outgoing) = Wire::new();
    let mut batches = Batches {
        wire,
        sender,
        records: shape.records,
    };
    let mut next_seq = 0u64;
    // Queued before the call: the first batches go out with the stream's headers.
    for _ in 0..shape.in_flight {
        batches.send(next_seq, Instant::now())?;
        next_seq += 1;
    }
    let mut responses = client
        .ingest_stream(outgoing)
        .await
        .context("IngestStream failed to open")?
        .into_inner();
    let mut outcome = Outcome::default();
    let mut resends: FuturesUnordered<Resend> = FuturesUnordered::new();
    while !(batches.wire.in_flight() == 0 && resends.is_empty()) {
        tokio::select! {
            response = responses.message() => {
                let response = response
                    .context("IngestStream ended with an error")?
                    .context("IngestStream ended with batches in flight")?;
                let (seq, first_sent) = batches.answered(&response)?;
                match response.code {
                    0 => {
                        outcome.records += shape.records as u64;
                        outcome.latencies.push(first_sent.elapsed());
                        if Instant::now() < stop {
                            batches.send(next_seq, Instant::now())?;
                            next_seq += 1;
                        }
                    }
                    code if code == Code::ResourceExhausted as i32
                        || code == Code::Unavailable as i32 =>
                    {
                        if code == Code::ResourceExhausted as i32 {
                            outcome.exhausted += 1;
                        } else {
                            outcome.unavailable += 1;
                        }
                        if first_sent.elapsed() > GIVE_UP_AFTER {
                            bail!("batch still rejected after {GIVE_UP_AFTER:?}: {}", response.message);
                        }
                        let delay = response
                            .retry_delay
                            .and_then(|d| Duration::try_from(d).ok())
                            .unwrap_or(DEFAULT_RETRY_DELAY);
                        resends.push(Box::pin(async move {
                            tokio::time::sleep(delay).await;
                            (seq, first_sent)
                        }));
                    }
                    code => bail!("IngestStream batch failed with code {code}: {}", response.message),
                }
            }
            Some((seq, first_sent)) = resends.next(), if !resends.is_empty() => {
                batches.send(seq, first_sent)?;
            }
        }
    }
    // Closing our side ends the stream; the server then closes its side.
    drop(batches);
    while responses.message().await?.is_some() {}
    Ok(outcome)
}

/// The sending half of a stream, and what this sender's batches hold.
struct Batches {
    wire: Wire<InFlight>,
    sender: usize,
    records: usize,
}

impl Batches {
    /// Sends batch `seq` under a fresh request_id (a resend's batch has the same records and
    /// client_record_ids, so a retry stores nothing twice).
    fn send(&mut self, seq: u64, first_sent: Instant) -> Result<()> {
        let records = records::proto_batch(self.sender, seq, self.records);
        self.wire
            .send(records, InFlight { seq, first_sent })
            .context("IngestStream closed while sending")
    }

    /// The batch `response` answers, no longer in flight.
    fn answered(&mut self, response: &IngestStreamResponse) -> Result<(u64, Instant)> {
        let batch = self.wire.answered(response.request_id).with_context(|| {
            format!("a response for unknown request_id {}", response.request_id)
        })?;
        if response.code == 0 {
            let acknowledged = i64::from(response.accepted) + i64::from(response.duplicates);
            if acknowledged != self.records as i64 {
                bail!(
                    "a batch of {} records acknowledged {acknowledged}",
                    self.records
                );
            }
        }
        Ok((batch.seq, batch.first_sent))
    }
}
