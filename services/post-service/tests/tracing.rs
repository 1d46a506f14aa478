//! Trace context: a caller's W3C traceparent is continued by the server span and stored with
//! the outbox event, so the asynchronous fan-out can join the same trace. Its own test binary:
//! the tracing subscriber is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use feedline_proto::graph::v1::CreateUserRequest;
use feedline_proto::post::v1::CreatePostRequest;
use feedline_telemetry::TelemetryConfig;
use feedline_test_harness::{Backend, OtlpReceiver};
use post_service::entity::outbox;
use sea_orm::EntityTrait as _;
use tonic::Request;

use common::TestServer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_post_continues_the_callers_trace_into_the_outbox() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = feedline_telemetry::init(&TelemetryConfig {
        service_name: "post-service".into(),
        otlp_endpoint: Some(receiver.endpoint()),
        log_filter: Some("info".into()),
    })
    .unwrap();
    let server = TestServer::start(Backend::Sqlite).await.unwrap();

    let author = server
        .graph
        .clone()
        .create_user(CreateUserRequest {
            handle: "traced".into(),
            display_name: String::new(),
            subject: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let mut request = Request::new(CreatePostRequest {
        author_id: author.user_id,
        body: "follow me".into(),
        idempotency_key: String::new(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    server.posts.clone().create_post(request).await.unwrap();

    let rows = outbox::Entity::find().all(&server.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].traceparent.starts_with(&format!("00-{TRACE_ID}-")),
        "outbox row carries the caller's trace: {:?}",
        rows[0].traceparent
    );
    assert!(
        !rows[0].traceparent.contains(CALLER_SPAN),
        "parent is the server's own span"
    );

    telemetry.flush().await;
    let span = receiver
        .wait_for_span(Duration::from_secs(10), |s| {
            s.name == "feedline.post.v1.PostService/CreatePost"
        })
        .await
        .unwrap();
    assert_eq!(span.trace_id, TRACE_ID);
    assert_eq!(span.parent_span_id, CALLER_SPAN);
    assert_eq!(span.service_name, "post-service");
    assert_eq!(
        span.attributes.get("rpc.system").map(String::as_str),
        Some("grpc")
    );
    // The outbox row names a span of this trace that the server exported.
    let stored_parent = &rows[0].traceparent[36..52];
    assert!(
        receiver
            .spans()
            .iter()
            .any(|s| s.span_id == stored_parent && s.trace_id == TRACE_ID),
        "the stored parent span {stored_parent} was exported"
    );

    server.stop().await;
    telemetry.shutdown().await;
}
