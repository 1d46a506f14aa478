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
use crate::drive::retry_after;
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
        *acked = ingest(&mut client, sender, call, records, recorder).await;
    }
    acked
}

/// One call, retried while the service asks; true once acknowledged.
async fn ingest(
    client: &mut KeyedClient,
    sender: usize,
    call: usize,
    records: usize,
    recorder: &Recorder,
) -> bool {
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
                    recorder.error(
                        "Ingest",
                        "ShortAck",
                        &format!("{records} records acknowledged as {acknowledged}"),
                    );
                    return false;
                }
                recorder.ok("Ingest", first_sent.elapsed());
                return true;
            }
            Err(status) => status,
        };
        let Some(delay) = retry_after(&status, DEFAULT_RETRY_DELAY) else {
            recorder.error("Ingest", &format!("{:?}", status.code()), status.message());
            return false;
        };
        if first_sent.elapsed() > GIVE_UP_AFTER {
            recorder.error(
                "Ingest",
                "GaveUp",
                &format!(
                    "still {:?} after {}s: {}",
                    status.code(),
                    GIVE_UP_AFTER.as_secs(),
                    status.message()
                ),
            );
            return false;
        }
        recorder.retry();
        tokio::time::sleep(delay).await;
    }
}
