//! The loads on log-ingest-service, all loadgen's own: unary Ingest in a closed loop (send,
//! wait for OK, send the next: the shape of a typical log shipper) and at a fixed rate (open
//! loop: latency from when each call was due), both through the driver with the logs
//! scenario's `ingest` (retried while the service asks); and IngestStream with the scenario's
//! stream sender, stopped after the run's duration.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::drive::drive;
use crate::options::Load;
use crate::scenarios::logs::app::KeyedClient;
use crate::scenarios::logs::{stream, unary};
use crate::stats::{Recorder, Totals};

/// Ingest calls of `records` records round robin over `clients`: `senders` closed-loop
/// senders, or with `rate` (records/s), an open loop of at most `senders` calls in flight.
/// A call's records are numbered by its sender (closed loop) or 0 (open loop) and its number.
pub async fn unary(
    clients: &[KeyedClient],
    senders: usize,
    records: usize,
    rate: Option<u64>,
    duration: Duration,
) -> Totals {
    let recorder = Arc::new(Recorder::new());
    let load = Load {
        vus: senders,
        duration,
        rate: rate.map(|r| r as f64 / records as f64),
    };
    let (clients, retries) = (clients.to_vec(), recorder.clone());
    drive(&load, &recorder, &CancellationToken::new(), move |call| {
        // A closed-loop sender keeps its connection; open-loop calls go round robin.
        let (sender, pick) = match rate {
            Some(_) => (0, call.n as usize),
            None => (call.vu, call.vu),
        };
        let mut client = clients[pick % clients.len()].clone();
        let recorder = retries.clone();
        async move {
            let sent = unary::ingest(&mut client, sender, call.n as usize, records, &recorder);
            (unary::OP, sent.await)
        }
    })
    .await;
    recorder.finish()
}

/// One warm-up call per client, apart from the measured senders (`first_sender` up).
pub async fn warm_up(clients: &[KeyedClient], first_sender: usize, records: usize) -> Result<u64> {
    let recorder = Recorder::new();
    for (i, client) in clients.iter().enumerate() {
        let mut client = client.clone();
        unary::ingest(&mut client, first_sender + i, 0, records, &recorder)
            .await
            .map_err(|error| anyhow::anyhow!("warm-up: {}: {}", error.kind, error.message))?;
    }
    Ok((clients.len() * records) as u64)
}

/// One IngestStream per client, each keeping `in_flight` batches of `records` unanswered,
/// for `duration`; batches in flight then finish.
pub async fn streams(
    clients: &[KeyedClient],
    in_flight: usize,
    records: usize,
    duration: Duration,
) -> Totals {
    let recorder = Arc::new(Recorder::new());
    let stop = CancellationToken::new();
    let mut senders = JoinSet::new();
    for (sender, client) in clients.iter().enumerate() {
        let (client, recorder, stop) = (client.clone(), recorder.clone(), stop.clone());
        let shape = (usize::MAX, records, in_flight);
        senders.spawn(async move {
            stream::sender(client, sender, shape, &recorder, &stop).await;
        });
    }
    tokio::time::sleep(duration).await;
    stop.cancel();
    while senders.join_next().await.is_some() {}
    recorder.finish()
}
