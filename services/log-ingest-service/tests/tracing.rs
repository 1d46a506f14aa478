//! Trace context: an Ingest call continues its caller's trace, and the batch that wrote its
//! records links to it. Its own test binary: the tracing subscriber is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use feedline_proto::logs::v1::IngestRequest;
use feedline_telemetry::TelemetryConfig;
use feedline_test_harness::{Backend, OtlpReceiver};

use common::{TestServer, record, with_key};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_span_links_to_the_calls_it_wrote() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = feedline_telemetry::init(&TelemetryConfig {
        service_name: "log-ingest-service".into(),
        otlp_endpoint: Some(receiver.endpoint()),
        log_filter: Some("info".into()),
    })
    .unwrap();
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let key = server.create_app("traced").await;

    let mut request = with_key(
        &key,
        IngestRequest {
            records: vec![record("traced", "t1")],
        },
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    server.client.clone().ingest(request).await.unwrap();

    telemetry.flush().await;
    let call = receiver
        .wait_for_span(Duration::from_secs(10), |s| {
            s.name == "feedline.logs.v1.LogService/Ingest"
        })
        .await
        .unwrap();
    assert_eq!(call.trace_id, TRACE_ID);
    assert_eq!(call.parent_span_id, CALLER_SPAN);
    let batch = receiver
        .wait_for_span(Duration::from_secs(10), |s| {
            s.name == "write batch" && s.links.iter().any(|(trace, _)| trace == TRACE_ID)
        })
        .await
        .unwrap();
    assert!(
        batch
            .links
            .contains(&(TRACE_ID.to_owned(), call.span_id.clone())),
        "the batch links to the call's span: {:?}",
        batch.links
    );
    server.stop().await;
    telemetry.shutdown().await;
}
