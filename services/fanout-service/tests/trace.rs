//! One trace from CreatePost through the outbox relay to the fan-out writes, exported over OTLP:
//! the request, the event's wait in the outbox, the send, the wait for a lane, the apply and
//! each node pipeline of it; and the fan-out and relay metrics, exported to the same collector.
//! Its own test binary: the tracing subscriber is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use feedline_proto::post::v1::CreatePostRequest;
use feedline_telemetry::TelemetryConfig;
use feedline_test_harness::{OtlpReceiver, eventually};
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

    // Every wait and step between the commit and the writes is a span of the trace. The time
    // in the outbox: beside the send, under the same span of the request.
    let wait = receiver
        .wait_for_span(timeout, in_trace("outbox.wait"))
        .await
        .unwrap();
    assert_eq!(
        wait.parent_span_id, send.parent_span_id,
        "the outbox wait hangs where the send does: {wait:?}"
    );
    assert_eq!(
        wait.attributes.get("event_id"),
        send.attributes.get("event_id")
    );
    assert_eq!(
        wait.attributes.get("event_kind").map(String::as_str),
        Some("deliver_post")
    );
    let waited: i64 = wait.attributes["outbox_wait_ms"].parse().unwrap();
    assert!((0..20_000).contains(&waited), "{wait:?}");
    // The wait for a lane in fanout-service: a child of the send, beside the apply.
    let queued = receiver
        .wait_for_span(timeout, in_trace("fanout.queue_wait"))
        .await
        .unwrap();
    assert_eq!(queued.parent_span_id, send.span_id, "{queued:?}");
    assert_eq!(
        queued.attributes.get("event_id"),
        apply.attributes.get("event_id")
    );
    // One span per node pipeline of timeline writes, under the apply, with its node and size.
    receiver
        .wait_for_span(timeout, in_trace("fanout.pipeline"))
        .await
        .unwrap();
    let spans = receiver.spans();
    let pipelines: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "fanout.pipeline" && s.trace_id == TRACE_ID)
        .collect();
    assert_eq!(
        pipelines.len().to_string(),
        apply.attributes["pipelines"],
        "one span per pipeline the apply counted: {pipelines:?}"
    );
    let mut commands = 0;
    for pipeline in &pipelines {
        assert!(
            descends_from(&spans, pipeline, &apply.span_id),
            "{pipeline:?} is not under the apply"
        );
        let node = &pipeline.attributes["node"];
        let port = node.rsplit_once(':').map(|(_, port)| port.parse::<u16>());
        assert!(matches!(port, Some(Ok(_))), "node is host:port: {node}");
        let sent: usize = pipeline.attributes["commands"].parse().unwrap();
        assert!(sent >= 1, "{pipeline:?}");
        commands += sent;
    }
    // Two followers' timelines: a ZADD each, at least.
    assert!(commands >= 2, "{pipelines:?}");

    // The metrics go to the same collector. The lag is recorded just after the writes that
    // the timeline check saw, so flush until everything has gone out.
    let metrics = [
        "feedline.fanout.lag",
        "feedline.fanout.recipients",
        "feedline.fanout.pipeline.commands",
        "feedline.relay.lag",
        "feedline.outbox.backlog",
        "feedline.outbox.oldest_age",
    ];
    for metric in metrics {
        eventually(&format!("{metric} exported"), timeout, || async {
            let found = receiver.wait_for_metric(Duration::from_millis(200), metric);
            if let Err(error) = found.await {
                telemetry.flush().await;
                return Err(error);
            }
            Ok(())
        })
        .await
        .unwrap();
    }

    stack.stop().await;
    telemetry.shutdown().await;
}

/// Whether `span` has the span `ancestor` above it, through spans exported in its trace.
fn descends_from(
    spans: &[feedline_test_harness::ReceivedSpan],
    span: &feedline_test_harness::ReceivedSpan,
    ancestor: &str,
) -> bool {
    let mut parent = span.parent_span_id.as_str();
    for _ in 0..spans.len() {
        if parent == ancestor {
            return true;
        }
        match spans
            .iter()
            .find(|s| s.span_id == parent && s.trace_id == span.trace_id)
        {
            Some(next) => parent = next.parent_span_id.as_str(),
            None => return false,
        }
    }
    false
}
