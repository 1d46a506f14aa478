//! Each compose rule fires on a small file that breaks it, and only that rule.

use serde_json::Value;

use crate::compose::{check_compose, interpolate, parse_compose};
use crate::edit::{fires, set};

/// A compose file that keeps every rule; `edit` breaks one.
fn compose(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut doc = parse_compose(
        r#"
x-common: &common
  OTEL_EXPORTER_OTLP_ENDPOINT: http://jaeger:4317
  RUST_LOG: info
services:
  jaeger: {image: jaegertracing/all-in-one}
  post-service:
    environment:
      <<: *common
      FEEDLINE_LISTEN_ADDR: 0.0.0.0:50051
      FEEDLINE_DATABASE_URL: ${DATABASE_URL:-postgres://feedline:feedline@postgres:5432/feedline}
      FEEDLINE_FANOUT_URL: http://fanout-service:50052
      FEEDLINE_NODE_ID: 0
    ports: ["50051:50051"]
    healthcheck: {test: ["CMD", "/usr/local/bin/post-service", "healthcheck"], interval: 5s}
  fanout-service:
    environment:
      - FEEDLINE_REDIS_URL=redis-cluster://redis:7000
      - FEEDLINE_POST_SERVICE_URL=http://post-service:50051
      - OTEL_SERVICE_NAME=fanout-service
    ports: [{target: 50052, published: 50052}]
    healthcheck: {test: ["CMD", "/usr/local/bin/fanout-service", "healthcheck"]}
  feed-read-service:
    environment:
      FEEDLINE_POST_SERVICE_URL: "http://post-service:50051"
      FEEDLINE_REDIS_URL: redis-cluster://redis:7000
    ports: ["127.0.0.1:50053:50053/tcp"]
    healthcheck: {test: ["CMD", "/usr/local/bin/feed-read-service", "healthcheck"]}
  log-ingest-service:
    environment:
      - FEEDLINE_ADMIN_TOKEN=t0ken
      - FEEDLINE_DATABASE_URL=postgres://feedline:feedline@postgres:5432/feedline_logs
    ports: [50054]
    healthcheck: {test: ["CMD", "/usr/local/bin/log-ingest-service", "healthcheck"]}
"#,
    );
    edit(&mut doc);
    check_compose(&doc)
}

#[test]
fn a_file_that_keeps_every_rule_passes() {
    assert_eq!(compose(|_| {}), Vec::<String>::new());
}

#[test]
fn compose_interpolation_and_merge_keys_are_applied() {
    let doc = compose_doc();
    let env = &doc["services"]["post-service"]["environment"];
    assert_eq!(
        env["FEEDLINE_DATABASE_URL"],
        "postgres://feedline:feedline@postgres:5432/feedline"
    );
    assert_eq!(env["RUST_LOG"], "info");
    assert_eq!(interpolate("a$$b${X}c${Y-d}$Z/e"), "a$bcd/e");
}

fn compose_doc() -> Value {
    let mut doc = Value::Null;
    compose(|d| doc = d.clone());
    doc
}

#[test]
fn a_missing_service_fires() {
    fires(
        compose(|d| {
            d["services"]
                .as_object_mut()
                .unwrap()
                .remove("feed-read-service");
        }),
        &["feed-read-service is missing"],
    );
}

#[test]
fn an_unknown_or_unread_variable_fires() {
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/environment/FEEDLINE_DATABSE_URL",
                "x".into(),
            )
        }),
        &["post-service", "FEEDLINE_DATABSE_URL", "never reads it"],
    );
    // Read by post-service, but not by fanout-service.
    fires(
        compose(|d| {
            d["services"]["fanout-service"]["environment"]
                .as_array_mut()
                .unwrap()
                .push("FEEDLINE_RELAY_BATCH=5".into());
        }),
        &["fanout-service", "FEEDLINE_RELAY_BATCH", "never reads it"],
    );
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/environment/RUST_BACKTRACE",
                "1".into(),
            )
        }),
        &["post-service", "RUST_BACKTRACE", "neither"],
    );
}

#[test]
fn an_address_the_config_reads_but_is_not_given_fires() {
    fires(
        compose(|d| {
            d["services"]["feed-read-service"]["environment"]
                .as_object_mut()
                .unwrap()
                .remove("FEEDLINE_REDIS_URL");
        }),
        &["feed-read-service", "reads FEEDLINE_REDIS_URL", "not set"],
    );
}

#[test]
fn a_value_the_config_rejects_fires() {
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/environment/FEEDLINE_NODE_ID",
                5000.into(),
            )
        }),
        &["post-service", "FEEDLINE_NODE_ID", "rejects"],
    );
}

#[test]
fn a_wrong_listen_port_fires() {
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/environment/FEEDLINE_LISTEN_ADDR",
                "0.0.0.0:8080".into(),
            )
        }),
        &["post-service", "FEEDLINE_LISTEN_ADDR", "8080", "50051"],
    );
}

#[test]
fn an_unpublished_port_fires() {
    fires(
        compose(|d| {
            set(
                d,
                "/services/feed-read-service/ports/0",
                "50053:8080".into(),
            )
        }),
        &["feed-read-service", "ports", "50053"],
    );
    fires(
        compose(|d| {
            d["services"]["log-ingest-service"]
                .as_object_mut()
                .unwrap()
                .remove("ports");
        }),
        &["log-ingest-service", "ports"],
    );
}

#[test]
fn a_bad_url_host_or_port_fires() {
    let fanout_url = "/services/post-service/environment/FEEDLINE_FANOUT_URL";
    fires(
        compose(|d| set(d, fanout_url, "http://fanout-service:50051".into())),
        &[
            "post-service",
            "FEEDLINE_FANOUT_URL",
            "fanout-service listens on 50052",
        ],
    );
    fires(
        compose(|d| set(d, fanout_url, "http://fanout:50052".into())),
        &[
            "post-service",
            "FEEDLINE_FANOUT_URL",
            "not a feedline service",
        ],
    );
    // The second address of a list is checked too.
    fires(
        compose(|d| {
            set(
                d,
                fanout_url,
                "http://fanout-service:50052,http://localhost:50052".into(),
            )
        }),
        &["FEEDLINE_FANOUT_URL", "localhost is not a feedline service"],
    );
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/environment/OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://collector:4317".into(),
            )
        }),
        &["OTEL_EXPORTER_OTLP_ENDPOINT", "collector names no service"],
    );
}

#[test]
fn a_missing_or_wrong_healthcheck_fires() {
    fires(
        compose(|d| {
            d["services"]["fanout-service"]
                .as_object_mut()
                .unwrap()
                .remove("healthcheck");
        }),
        &["fanout-service", "healthcheck.test is missing"],
    );
    fires(
        compose(|d| {
            set(
                d,
                "/services/post-service/healthcheck/test",
                serde_json::json!(["CMD-SHELL", "curl -f http://localhost:50051"]),
            )
        }),
        &["post-service", "healthcheck.test", "CMD-SHELL"],
    );
}

#[test]
fn an_env_file_fires() {
    fires(
        compose(|d| set(d, "/services/post-service/env_file", ".env".into())),
        &["post-service", "env_file"],
    );
}
