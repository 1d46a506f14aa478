//! Unary Ingest load: closed-loop senders (send, wait for OK, send the next: the shape of a
//! typical log shipper) and an open-loop fixed rate that measures latency at a given throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use feedline_proto::logs::v1::IngestRequest;
use feedline_test_harness::retry_delay;
use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use tonic::Code;

use super::outcome::Outcome;
use super::records;
use crate::logs_app::{KeyedClient, describe};

/// When a rejection carries no RetryInfo.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(50);
/// A call still rejected after this long fails the benchmark rather than hang it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Sends batch `seq` of `sender` (`n` records) until it is acknowledged, retrying after the
/// RetryInfo delay on RESOURCE_EXHAUSTED and UNAVAILABLE (the contract's "retry" answers).
/// The latency recorded runs from `since`: the first send, or when the call was due.
pub async fn ingest_acknowledged(
    client: &mut KeyedClient,
    sender: usize,
    seq: u64,
    n: usize,
    since: Instant,
    outcome: &mut Outcome,
) -> Result<()> {
    loop {
        let request = IngestRequest {
            records: records::proto_batch(sender, seq, n),
        };
        let status = match client.ingest(request).await {
            Ok(response) => {
                let response = response.into_inner();
                let acknowledged = i64::from(response.accepted) + i64::from(response.duplicates);
                if acknowledged != n as i64 {
                    bail!("Ingest of {n} records acknowledged {acknowledged}");
                }
                outcome.records += n as u64;
                outcome.latencies.push(since.elapsed());
                return Ok(());
            }
            Err(status) => status,
        };
        match status.code() {
            Code::ResourceExhausted => outcome.exhausted += 1,
            Code::Unavailable => outcome.unavailable += 1,
            _ => bail!("Ingest failed: {}", describe(&status)),
        }
        if since.elapsed() > GIVE_UP_AFTER {
            bail!(
                "Ingest still rejected after {GIVE_UP_AFTER:?}: {}",
                describe(&status)
            );
        }
        tokio::time::sleep(retry_delay(&status).unwrap_or(DEFAULT_RETRY_DELAY)).await;
    }
}

/// `senders` closed-loop senders, spread over `clients` (one connection each), sending
/// `records` per call until `duration` has passed; calls in flight then finish.
pub async fn closed_loop(
    clients: &[KeyedClient],
    senders: usize,
    records: usize,
    duration: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let stop = started + duration;
    let tasks: Vec<_> = (0..senders)
        .map(|sender| {
            let mut client = clients[sender % clients.len()].clone();
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut seq = 0;
                while Instant::now() < stop {
                    let sent = Instant::now();
                    ingest_acknowledged(&mut client, sender, seq, records, sent, &mut outcome)
                        .await?;
                    seq += 1;
                }
                Ok::<_, anyhow::Error>(outcome)
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        total.absorb(task.await??);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Open loop: one call of `records` every `records / rate` seconds for `duration`, whether or
/// not earlier calls are answered, from a pool of at most `pool` concurrent senders. Latency
/// runs from when each call was due, so a call delayed by a busy pool counts its wait too.
pub async fn fixed_rate(
    clients: &[KeyedClient],
    pool: usize,
    records: usize,
    rate: u64,
    duration: Duration,
) -> Result<Outcome> {
    let period = Duration::from_secs_f64(records as f64 / rate as f64);
    let pool = Arc::new(Semaphore::new(pool));
    let mut ticks = tokio::time::interval(period);
    // Burst: ticks missed while the pool was full fire at once, keeping the average rate.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let stop = started + duration;
    let mut tasks = Vec::new();
    for call in 0u64.. {
        let due = ticks.tick().await.into_std();
        if due >= stop {
            break;
        }
        let permit = pool.clone().acquire_owned().await?;
        let mut client = clients[call as usize % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let mut outcome = Outcome::default();
            ingest_acknowledged(&mut client, 0, call, records, due, &mut outcome).await?;
            Ok::<_, anyhow::Error>(outcome)
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        total.absorb(task.await??);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}
