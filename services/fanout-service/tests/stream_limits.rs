//! Stream limits of the real fanout-service process: an anonymous `Fanout` flood is refused
//! without hanging and with bounded memory, and service streams count against
//! `FEEDLINE_MAX_OPEN_STREAMS` for their whole life.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::Duration;

use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use feedline_proto::fanout::v1::{FanoutEvent, FanoutRequest, FanoutResponse};
use feedline_service_kit::auth::{DevKeys, bearer_value};
use feedline_test_harness::{
    RedisCluster, ServiceProcess, eventually, free_addr, redis_server_available, retry_delay,
};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// Open streams allowed in these tests.
const MAX_OPEN_STREAMS: usize = 4;
/// Anonymous streams in the flood, over [`CONNECTIONS`] connections.
const FLOOD: usize = 2000;
const CONNECTIONS: usize = 8;
/// Events each anonymous stream sends before it is answered (about 16 KiB).
const FLOOD_EVENTS: usize = 200;
/// How much the process may grow through the flood: every stream's body buffered at once would
/// be about 31 MiB; streams kept open or state leaked per stream would exceed this.
const RSS_GROWTH_KIB: u64 = 64 << 10;

/// A stream opened with `token` (none: anonymous), its first request already queued.
async fn open_stream(
    client: &FanoutServiceClient<Channel>,
    token: Option<&str>,
    events: usize,
) -> (
    Result<Streaming<FanoutResponse>, Status>,
    mpsc::Sender<FanoutRequest>,
) {
    let (tx, rx) = mpsc::channel(4);
    let events = (0..events)
        .map(|i| FanoutEvent {
            event_id: i as i64 + 1,
            traceparent: "x".repeat(64),
            ..Default::default()
        })
        .collect();
    tx.send(FanoutRequest { events }).await.unwrap();
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    if let Some(token) = token {
        let value = bearer_value(token).unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    let opened = client.clone().fanout(request).await;
    (opened.map(tonic::Response::into_inner), tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_floods_and_open_stream_limits() {
    if !redis_server_available() {
        eprintln!("skipped: no redis-server");
        return;
    }
    let cluster = RedisCluster::start(3, 0).await.unwrap();
    let keys = DevKeys::generate("feedline-test", "feedline");
    let addr = free_addr().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fanout-service"));
    command
        .env("FEEDLINE_LISTEN_ADDR", addr.to_string())
        .env("FEEDLINE_REDIS_URL", cluster.url())
        // Not needed: no event here reaches a rebuild.
        .env("FEEDLINE_POST_SERVICE_URL", "http://127.0.0.1:9")
        .env("FEEDLINE_AUTH_JWKS", keys.jwks_json())
        .env("FEEDLINE_MAX_OPEN_STREAMS", MAX_OPEN_STREAMS.to_string())
        .env("RUST_LOG", "error");
    let mut service = ServiceProcess::spawn(&mut command, addr).await.unwrap();
    let token = keys.service_token("post-service");
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
    let client = FanoutServiceClient::new(channel.connect().await.unwrap());
    let baseline = service.rss_kib().unwrap();

    // (a) The flood: refused before any body is read, none hangs, memory stays bounded.
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
        clients.push(FanoutServiceClient::new(channel.connect().await.unwrap()));
    }
    let flood = (0..FLOOD).map(|i| {
        let client = clients[i % CONNECTIONS].clone();
        async move {
            let call = open_stream(&client, None, FLOOD_EVENTS);
            match tokio::time::timeout(Duration::from_secs(30), call).await {
                Ok((Err(status), _)) => status.code(),
                Ok((Ok(_), _)) => panic!("anonymous stream {i} was admitted"),
                Err(_) => panic!("anonymous stream {i} hung"),
            }
        }
    });
    let codes = futures::future::join_all(flood).await;
    assert!(
        codes.iter().all(|c| *c == Code::Unauthenticated),
        "anonymous streams are UNAUTHENTICATED: {:?}",
        codes.iter().find(|c| **c != Code::Unauthenticated)
    );
    let after = service.rss_kib().unwrap();
    eprintln!("rss: {baseline} KiB before, {after} KiB after {FLOOD} anonymous streams");
    assert!(
        after < baseline + RSS_GROWTH_KIB,
        "RSS grew from {baseline} KiB to {after} KiB"
    );
    drop(clients);

    // (b) Service streams: the limit, then RESOURCE_EXHAUSTED with RetryInfo, until one ends.
    let mut open = Vec::new();
    for _ in 0..MAX_OPEN_STREAMS {
        let (opened, tx) = open_stream(&client, Some(&token), 1).await;
        let mut acks = opened.expect("a service stream within the limit is admitted");
        // Admitted and working: its event (no kind: rejected) is answered.
        let response = acks.message().await.unwrap().expect("an answer");
        assert_eq!(response.acks.len(), 1);
        open.push((acks, tx));
    }
    let (refused, _tx) = open_stream(&client, Some(&token), 1).await;
    let status = refused.expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(retry_delay(&status).is_some(), "RetryInfo: {status:?}");

    let (mut acks, tx) = open.pop().unwrap();
    drop(tx);
    assert!(acks.message().await.unwrap().is_none(), "the stream ended");
    eventually(
        "a stream admitted again",
        Duration::from_secs(10),
        || async {
            let (opened, tx) = open_stream(&client, Some(&token), 1).await;
            Ok::<_, anyhow::Error>((opened?, tx))
        },
    )
    .await
    .unwrap();
    drop(open);
    assert!(
        service
            .terminate(Duration::from_secs(15))
            .await
            .unwrap()
            .success()
    );
}
