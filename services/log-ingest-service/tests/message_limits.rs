//! Message size limits of log-ingest-service over real gRPC: a message over the 8 MiB it
//! decodes is refused OUT_OF_RANGE, on Ingest and on IngestStream, one between the 4 MiB call
//! limit and 8 MiB is INVALID_ARGUMENT naming `records`, nothing of either is stored, and the
//! service goes on serving.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use common::{TestServer, assert_violation, count_rows, record, with_key};
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{IngestRequest, IngestStreamRequest, LogRecord};
use feedline_test_harness::Backend;
use tonic::Code;
use tonic::transport::Channel;

/// Records of 16,000 bytes each (within the 16 KiB a record may hold): `count` of them.
fn records(count: usize) -> Vec<LogRecord> {
    (0..count)
        .map(|_| record(&"z".repeat(16_000), ""))
        .collect()
}

/// Ingest of `records` with `key`.
async fn ingest(
    client: &LogServiceClient<Channel>,
    key: &str,
    records: Vec<LogRecord>,
) -> Result<i32, tonic::Status> {
    let request = with_key(key, IngestRequest { records });
    let answer = client.clone().ingest(request).await?;
    Ok(answer.into_inner().accepted)
}

/// One IngestStream of a single batch of `records`: the first answer's code (or the stream's
/// status when it ends without one).
async fn stream_once(
    client: &LogServiceClient<Channel>,
    key: &str,
    records: Vec<LogRecord>,
) -> Result<i32, tonic::Status> {
    let batch = IngestStreamRequest {
        request_id: 1,
        records,
    };
    let requests = tokio_stream::iter([batch]);
    let mut answers = client
        .clone()
        .ingest_stream(with_key(key, requests))
        .await?
        .into_inner();
    match answers.message().await? {
        Some(answer) => Ok(answer.code),
        None => Err(tonic::Status::unknown("the stream ended without an answer")),
    }
}

/// A service on SQLite, an app's key, and a client that sends whatever it is given: the
/// server's limits are under test.
async fn start() -> (TestServer, String, LogServiceClient<Channel>) {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let key = s.create_app("limits").await;
    let client = s.client.clone().max_encoding_message_size(usize::MAX);
    (s, key, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_ingest_is_refused_and_the_service_keeps_serving() {
    let (s, key, client) = start().await;

    // 600 x 16,000 bytes: about 9.6 MB, over the 8 MiB the server decodes.
    let status = ingest(&client, &key, records(600)).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    // 300 x 16,000 bytes: about 4.8 MB, decoded, then refused by the 4 MiB call limit.
    let status = ingest(&client, &key, records(300)).await.unwrap_err();
    assert_violation(&status, "records");
    assert_eq!(count_rows(&s.db).await, 0, "nothing refused is stored");

    // Still serving, on the same connection.
    assert_eq!(ingest(&client, &key, records(200)).await.unwrap(), 200);
    assert_eq!(count_rows(&s.db).await, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_stream_message_ends_the_stream_out_of_range() {
    let (s, key, client) = start().await;

    // The same 9.6 MB, as one batch of a stream: the stream ends, saying why.
    let status = stream_once(&client, &key, records(600)).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert_eq!(count_rows(&s.db).await, 0, "nothing refused is stored");

    // Still serving, on the same connection: a stream within the limits.
    assert_eq!(stream_once(&client, &key, records(1)).await.unwrap(), 0);
    assert_eq!(count_rows(&s.db).await, 1);
    s.stop().await;
}
