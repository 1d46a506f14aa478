//! One trace from CreatePost through the outbox relay to the fan-out writes, exported over OTLP.
//! Its own test binary: the tracing subscriber is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use feedline_proto::post::v1::CreatePostRequest;
use feedline_telemetry::TelemetryConfig;
use feedline_test_harness::OtlpReceiver;
use tonic::Request;

use common::Stack;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_post_relay_and_fanout_share_one_trace() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let telemetry = feedline_telemetry::init(&TelemetryConfig {
        service_name: "feedline-e2e".into(),
        otlp_endpoint: Some(receiver.endpoint()),
        log_filter: Some("info".into()),
    })
    .unwrap();
    let stack = Stack::start(&[]).await;
    let author = stack.user("traced").await;
    let fans = [stack.user("fan_a").await, stack.user("fan_b").await];
    for fan in fans {
        stack.follow(fan, author).await;
    }

    let mut request = Request::new(CreatePostRequest {
        author_id: author,
        body: "trace me".into(),
        idempotency_key: String::new(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-b7ad6b7169203331-01")
            .parse()
            .unwrap(),
    );
    let post = stack
        .posts
        .clone()
        .create_post(request)
        .await
        .unwrap()
        .into_inner()
        .post
        .unwrap();
    for fan in fans {
        stack
            .wait_for_timeline(fan, &[post.post_id], Duration::from_secs(20))
            .await;
    }

    telemetry.flush().await;
    let in_trace = |name: &'static str| {
        move |s: &feedline_test_harness::ReceivedSpan| s.name == name && s.trace_id == TRACE_ID
    };
    let timeout = Duration::from_secs(10);
    let server = receiver
        .wait_for_span(timeout, in_trace("feedline.post.v1.PostService/CreatePost"))
        .await
        .unwrap();
    let send = receiver
        .wait_for_span(timeout, in_trace("outbox.relay.send"))
        .await
        .unwrap();
    let apply = receiver
        .wait_for_span(timeout, in_trace("fanout.apply"))
        .await
        .unwrap();

    assert_eq!(server.parent_span_id, "b7ad6b7169203331");
    assert_eq!(
        apply.parent_span_id, send.span_id,
        "the fan-out continues from the relay send"
    );
    assert_eq!(
        send.attributes.get("event_kind").map(String::as_str),
        Some("deliver_post")
    );
    assert_eq!(
        apply.attributes.get("recipients").map(String::as_str),
        Some("2")
    );
    for key in ["pipeline_commands", "pipelines", "lag_ms"] {
        assert!(
            apply.attributes.contains_key(key),
            "fanout.apply lacks {key}: {apply:?}"
        );
    }
    // The relay's send hangs off a span of the CreatePost request, in the same trace.
    assert!(
        receiver
            .spans()
            .iter()
            .any(|s| s.span_id == send.parent_span_id && s.trace_id == TRACE_ID),
        "the send's parent was exported as part of the request's trace"
    );

    // The lag is a metric too, exported to the same collector. The lag is recorded just after
    // the writes that the timeline check saw, so flush until it has gone out.
    let started = std::time::Instant::now();
    while receiver
        .wait_for_metric(Duration::from_millis(200), "feedline.fanout.lag")
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < timeout,
            "no lag metric: {:?}",
            receiver.metric_names()
        );
        telemetry.flush().await;
    }

    stack.stop().await;
    telemetry.shutdown().await;
}
