//! The in-process OTLP receiver, fed by opentelemetry-proto's own gRPC client.

use std::time::Duration;

use feedline_test_harness::OtlpReceiver;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span::Link};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

#[tokio::test]
async fn receives_and_flattens_an_export() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        parent_span_id: vec![0x02; 8],
        name: "insert_post".into(),
        kind: 3,
        attributes: vec![
            kv("post.id", Value::IntValue(42)),
            kv("ok", Value::BoolValue(true)),
        ],
        links: vec![Link {
            trace_id: vec![0xcd; 16],
            span_id: vec![0x03; 8],
            ..Default::default()
        }],
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    Value::StringValue("post-service".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();
    client.export(request).await.unwrap();

    let got = receiver
        .wait_for_span(Duration::from_secs(5), |s| s.name == "insert_post")
        .await
        .unwrap();
    assert_eq!(got.service_name, "post-service");
    assert_eq!(got.trace_id, "ab".repeat(16));
    assert_eq!(got.span_id, "0101010101010101");
    assert_eq!(got.parent_span_id, "0202020202020202");
    assert_eq!(got.kind, 3);
    assert_eq!(got.attributes["post.id"], "42");
    assert_eq!(got.attributes["ok"], "true");
    assert_eq!(got.links, [("cd".repeat(16), "03".repeat(8))]);
    assert_eq!(receiver.spans().len(), 1);

    let missing = receiver
        .wait_for_span(Duration::from_millis(50), |s| s.name == "never")
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("insert_post"), "{missing}");
}
