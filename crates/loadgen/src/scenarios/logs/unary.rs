//! Unary Ingest: each sender sends its calls one after another, each retried after the
//! RetryInfo delay while the service answers RESOURCE_EXHAUSTED or UNAVAILABLE (the
//! contract's "send it again" answers, counted as retries, never as lost), and after
//! DEADLINE_EXCEEDED (the outcome is unknown; the same client_record_ids make the retry
//! safe, as the contract says of any error).

use std::time::Duration;

use feedline_proto::logs::v1::IngestRequest;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::app::KeyedClient;
use super::records::batch;
use crate::drive::{OpError, retry_after};
use crate::stats::Recorder;

/// When a retry answer carries no RetryInfo.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(50);
/// A call still refused after this long is given up (an error, its records not acknowledged).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Sender `sender`'s `calls` calls of `records` records, until done or `stop`; which calls
/// were acknowledged.
pub async fn sender(
    mut client: KeyedClient,
    sender: usize,
    calls: usize,
    records: usize,
    recorder: &Recorder,
    stop: &CancellationToken,
) -> Vec<bool> {
    let mut acked = vec![false; calls];
    for (call, acked) in acked.iter_mut().enumerate() {
        if stop.is_cancelled() {
            break;
        }
        let first_sent = Instant::now();
        match ingest(&mut client, sender, call, records, recorder).await {
            Ok(()) => {
                recorder.ok(OP, first_sent.elapsed());
                *acked = true;
            }
            Err(error) => recorder.error(OP, &error.kind, &error.message),
        }
    }
    acked
}

/// The operation's name in the summary.
pub const OP: &str = "Ingest";

/// Call `call` of `sender` (`records` records), retried while the service asks (each retry
/// noted in `recorder`); Ok once acknowledged in full.
pub async fn ingest(
    client: &mut KeyedClient,
    sender: usize,
    call: usize,
    records: usize,
    recorder: &Recorder,
) -> Result<(), OpError> {
    let first_sent = Instant::now();
    loop {
        let request = IngestRequest {
            records: batch(sender, call, records),
        };
        let status = match client.ingest(request).await {
            Ok(response) => {
                let response = response.into_inner();
                let acknowledged = i64::from(response.accepted) + i64::from(response.duplicates);
                if acknowledged != records as i64 {
                    return Err(OpError::wrong(
                        "ShortAck",
                        format!("{records} records acknowledged as {acknowledged}"),
                    ));
                }
                return Ok(());
            }
            Err(status) => status,
        };
        let Some(delay) = retry_after(&status, DEFAULT_RETRY_DELAY) else {
            return Err(OpError::status(&status));
        };
        let kind = format!("{:?}", status.code());
        if first_sent.elapsed() > GIVE_UP_AFTER {
            return Err(OpError::wrong(
                "GaveUp",
                format!(
                    "still {kind} after {}s: {}",
                    GIVE_UP_AFTER.as_secs(),
                    status.message()
                ),
            ));
        }
        recorder.retry(&kind);
        tokio::time::sleep(delay).await;
    }
}
