//! `FEEDLINE_LOG_FORMAT=json` end to end: a copy of this test binary, run as a child process,
//! installs telemetry from its environment and logs inside a span continuing a caller's trace;
//! the parent parses each stderr line as JSON and checks the ids against the trace.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::HashMap;

use feedline_telemetry::{LogFormat, TelemetrySettings, W3cContext, context_from_w3c};
use feedline_test_harness::OtlpReceiver;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Set in the child's environment: the test then plays the service instead of checking it.
const CHILD: &str = "FEEDLINE_JSON_LOGS_CHILD";
/// The caller's trace, as a client would send it in `traceparent`.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The caller's own span, the parent of the call's.
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const TEST: &str = "json_lines_carry_the_trace_and_span_ids_of_their_span";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_the_trace_and_span_ids_of_their_span() {
    if std::env::var_os(CHILD).is_some() {
        return child().await;
    }
    // Exported: the ids in the lines are those of the spans the collector (Jaeger) receives.
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = receiver.endpoint();
    let (lines, [outer_span, inner_span]) =
        run_child(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]).await;
    check_lines(&lines, &outer_span, &inner_span);
    let spans = receiver.spans();
    let call = spans
        .iter()
        .find(|s| s.name == "call")
        .expect("the call span");
    assert_eq!(
        (call.trace_id.as_str(), call.span_id.as_str()),
        (TRACE_ID, outer_span.as_str())
    );
    let step = spans
        .iter()
        .find(|s| s.name == "step")
        .expect("the step span");
    assert_eq!(step.span_id, inner_span);
    assert_eq!(step.parent_span_id, outer_span);

    // Not exported: the lines still carry the caller's trace id and ids of their own spans.
    let (lines, [outer_span, inner_span]) = run_child(&[]).await;
    check_lines(&lines, &outer_span, &inner_span);
}

/// Runs this test as the child with `env`; its stderr as JSON values and the span ids it
/// printed (the call's, the step's).
async fn run_child(env: &[(&str, &str)]) -> (Vec<serde_json::Value>, [String; 2]) {
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    // libtest writes the test's name on the same line before the child's own output.
    let ids: Vec<String> = stdout
        .lines()
        .find_map(|l| l.split_once("ids ").map(|(_, ids)| ids))
        .expect("the child's ids line")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let lines = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (lines, ids.try_into().expect("two span ids"))
}

/// Each line inside a span names that span and the caller's trace; the line outside names none.
fn check_lines(lines: &[serde_json::Value], outer_span: &str, inner_span: &str) {
    let by_message = |message: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
    };
    let outer = by_message("inside the call");
    assert_eq!(outer["trace_id"], TRACE_ID, "{outer}");
    assert_eq!(outer["span_id"], outer_span, "{outer}");
    assert_eq!(outer["fields"]["answer"], 42, "{outer}");
    assert_eq!(outer["span"]["name"], "call", "{outer}");
    let inner = by_message("inside a step");
    assert_eq!(inner["trace_id"], TRACE_ID, "{inner}");
    assert_eq!(inner["span_id"], inner_span, "{inner}");
    assert_ne!(inner_span, outer_span);
    assert_ne!(outer_span, CALLER_SPAN);
    let outside = by_message("outside any span");
    assert!(outside.get("trace_id").is_none(), "{outside}");
    assert!(outside.get("span_id").is_none(), "{outside}");
}

/// What the child runs: telemetry read from its environment (JSON logs, no admin port: the
/// test's name is not a service's, so it has no default port), a
/// call's span whose parent is a remote `traceparent`, a child span, one line in each and one
/// outside.
async fn child() {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.insert("FEEDLINE_LOG_FORMAT".into(), "json".into());
    env.insert("RUST_LOG".into(), "info".into());
    let settings = TelemetrySettings::from_env(&env, "json-logs-test").unwrap();
    assert_eq!(settings.log_format, LogFormat::Json);
    let telemetry = feedline_telemetry::init(&settings).unwrap();

    tracing::info!("outside any span");
    let call = tracing::info_span!("call", rpc.method = "demo.v1.Demo/Echo");
    let caller = W3cContext {
        traceparent: format!("00-{TRACE_ID}-{CALLER_SPAN}-01"),
        tracestate: String::new(),
    };
    call.set_parent(context_from_w3c(&caller)).unwrap();
    let step = call.in_scope(|| {
        tracing::info!(answer = 42, "inside the call");
        let step = tracing::info_span!("step");
        step.in_scope(|| tracing::info!("inside a step"));
        step
    });
    let span_id = |span: &tracing::Span| span.context().span().span_context().span_id().to_string();
    println!("ids {} {}", span_id(&call), span_id(&step));
    drop((step, call));
    telemetry.shutdown().await;
}
