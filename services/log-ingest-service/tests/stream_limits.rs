//! Stream limits of the real log-ingest-service process: an anonymous IngestStream flood is
//! refused without hanging and with bounded memory, and open streams count against
//! `FEEDLINE_MAX_OPEN_STREAMS` for their whole life.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::process::ServiceProcess;
use common::{client, create_app, record, service_env, with_key};
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{IngestRequest, IngestStreamRequest, IngestStreamResponse};
use feedline_test_harness::{TestDatabase, eventually, free_addr, retry_delay};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// Open streams allowed in these tests.
const MAX_OPEN_STREAMS: usize = 8;
/// Anonymous streams in the flood, over [`CONNECTIONS`] connections.
const FLOOD: usize = 2000;
const CONNECTIONS: usize = 8;
/// The record bytes each anonymous stream sends before it is answered.
const FLOOD_BODY_BYTES: usize = 16 << 10;
/// How much the process may grow through the flood. If every stream's body were buffered at
/// once it would be 2000 x 16 KiB = 31 MiB, plus per-stream state; streams kept open, or a
/// task or buffer leaked per stream, would exceed this. A debug build's allocator keeps some of
/// what it freed, hence the margin.
const RSS_GROWTH_KIB: u64 = 64 << 10;

/// A stream opened with `key` (none: anonymous) whose first request is already queued: the
/// answer stream once the server admitted it, and the sender that keeps it open.
async fn open_stream(
    client: &LogServiceClient<Channel>,
    key: Option<&str>,
    first: IngestStreamRequest,
) -> (
    Result<Streaming<IngestStreamResponse>, Status>,
    mpsc::Sender<IngestStreamRequest>,
) {
    let (tx, rx) = mpsc::channel(4);
    tx.send(first).await.unwrap();
    let requests = ReceiverStream::new(rx);
    let request = match key {
        Some(key) => with_key(key, requests),
        None => tonic::Request::new(requests),
    };
    let opened = client.clone().ingest_stream(request).await;
    (opened.map(tonic::Response::into_inner), tx)
}

fn batch(request_id: u64, message: &str) -> IngestStreamRequest {
    IngestStreamRequest {
        request_id,
        records: vec![record(message, "")],
    }
}

async fn start(database: &TestDatabase) -> (ServiceProcess, SocketAddr) {
    let addr = free_addr().unwrap();
    let max = MAX_OPEN_STREAMS.to_string();
    let env = service_env(
        database.url(),
        addr,
        &[("FEEDLINE_MAX_OPEN_STREAMS", max.as_str())],
    );
    (ServiceProcess::spawn(&env, addr).await, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_stream_flood_is_refused_with_bounded_memory() {
    let database = TestDatabase::sqlite().await.unwrap();
    let (service, addr) = start(&database).await;
    let legit = client(addr).await;
    let key = create_app(&legit, "flood").await;
    let ingest = || {
        let mut legit = legit.clone();
        let request = with_key(
            &key,
            IngestRequest {
                records: vec![record("ok", "")],
            },
        );
        async move { legit.ingest(request).await }
    };
    ingest().await.expect("a legitimate call before the flood");
    let baseline = service.rss_kib();

    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        // One connection each: `connect` dials now, not lazily on a shared connection.
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
        clients.push(LogServiceClient::new(channel.connect().await.unwrap()));
    }
    let body = "x".repeat(FLOOD_BODY_BYTES);
    let flood = (0..FLOOD).map(|i| {
        let client = clients[i % CONNECTIONS].clone();
        let first = batch(i as u64, &body);
        async move {
            let call = open_stream(&client, None, first);
            match tokio::time::timeout(Duration::from_secs(30), call).await {
                Ok((Err(status), _)) => status.code(),
                Ok((Ok(_), _)) => panic!("anonymous stream {i} was admitted"),
                Err(_) => panic!("anonymous stream {i} hung"),
            }
        }
    });
    let codes = futures::future::join_all(flood).await;
    let refused = |code| codes.iter().filter(|c| **c == code).count();
    let (unauthenticated, exhausted) = (
        refused(Code::Unauthenticated),
        refused(Code::ResourceExhausted),
    );
    assert_eq!(unauthenticated + exhausted, FLOOD, "other codes: {codes:?}");
    assert!(
        unauthenticated > 0,
        "the key is checked: {exhausted} only shed"
    );

    ingest().await.expect("a legitimate call after the flood");
    let after = service.rss_kib();
    eprintln!(
        "rss: {baseline} KiB before, {after} KiB after {FLOOD} anonymous streams ({unauthenticated} UNAUTHENTICATED, {exhausted} RESOURCE_EXHAUSTED)"
    );
    assert!(
        after < baseline + RSS_GROWTH_KIB,
        "RSS grew from {baseline} KiB to {after} KiB"
    );
    // No refused stream kept its slot: every one of them can be opened by a legitimate client.
    let mut open = Vec::new();
    for i in 0..MAX_OPEN_STREAMS {
        let (opened, tx) = open_stream(&legit, Some(&key), batch(i as u64, "after")).await;
        open.push((opened.expect("slots are free after the flood"), tx));
    }
    drop(open);
    drop(clients);
    assert!(service.terminate(Duration::from_secs(15)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_beyond_the_limit_are_refused_until_one_closes() {
    let database = TestDatabase::sqlite().await.unwrap();
    let (service, addr) = start(&database).await;
    let client = client(addr).await;
    let key = create_app(&client, "streams").await;

    let mut open = Vec::new();
    for i in 0..MAX_OPEN_STREAMS {
        let (opened, tx) = open_stream(&client, Some(&key), batch(i as u64, "held")).await;
        let mut answers = opened.expect("within the limit");
        // Admitted and working: its first batch is answered, and it stays open.
        let answer = answers.message().await.unwrap().expect("an answer");
        assert_eq!(answer.request_id, i as u64);
        open.push((answers, tx));
    }
    let (refused, _tx) = open_stream(&client, Some(&key), batch(99, "one too many")).await;
    let status = refused.expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(retry_delay(&status).is_some(), "RetryInfo: {status:?}");
    // Unary calls are not streams: still served.
    client
        .clone()
        .ingest(with_key(
            &key,
            IngestRequest {
                records: vec![record("unary", "")],
            },
        ))
        .await
        .expect("unary calls keep their own limit");

    // The client ends one stream; its answers end, and its slot is free again.
    let (mut answers, tx) = open.pop().unwrap();
    drop(tx);
    assert!(
        answers.message().await.unwrap().is_none(),
        "the stream ended"
    );
    let mut admitted = eventually(
        "a stream admitted again",
        Duration::from_secs(10),
        || async {
            let (opened, tx) = open_stream(&client, Some(&key), batch(100, "again")).await;
            Ok::<_, anyhow::Error>((opened?, tx))
        },
    )
    .await
    .unwrap();
    assert_eq!(admitted.0.message().await.unwrap().unwrap().request_id, 100);
    // A cancelled stream (the client drops it without ending it) frees its slot too.
    drop(admitted);
    eventually(
        "a slot freed by a cancelled stream",
        Duration::from_secs(10),
        || async {
            let (opened, tx) = open_stream(&client, Some(&key), batch(101, "after cancel")).await;
            Ok::<_, anyhow::Error>((opened?, tx))
        },
    )
    .await
    .unwrap();
    drop(open);
    assert!(service.terminate(Duration::from_secs(15)).await);
}
