//! Each ECS task-definition rule fires on a small file that breaks it.

use feedline_test_harness::TestCa;
use serde_json::{Value, json};

use crate::contract::healthcheck_command;
use crate::ecs::check_ecs;
use crate::edit::{fires, set};
use crate::{SERVICES, Service};

const POST: &Service = &SERVICES[0];
const FEED_READ: &Service = &SERVICES[2];
const LOG_INGEST: &Service = &SERVICES[3];

/// The problems of a task definition for `service` that keeps every rule until `edit` breaks
/// one; `edit` sees `containerDefinitions[0]`.
fn problems(service: &Service, edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let (environment, secrets) = match service.name {
        "post-service" => (
            json!([
                {"name": "FEEDLINE_FANOUT_URL", "value": "http://fanout-service.feedline.local:50052"},
                {"name": "FEEDLINE_NODE_ID", "value": "0"},
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://localhost:4317"},
            ]),
            json!([{"name": "FEEDLINE_DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:x"}]),
        ),
        "log-ingest-service" => (
            json!([]),
            json!([
                {"name": "FEEDLINE_DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:y"},
                {"name": "FEEDLINE_ADMIN_TOKEN", "valueFrom": "arn:aws:ssm:z"},
            ]),
        ),
        _ => (
            json!([
                {"name": "FEEDLINE_POST_SERVICE_URL", "value": "http://post-service.feedline.local:50051"},
                {"name": "FEEDLINE_TIMELINE_CAP", "value": "800"},
                {"name": "FEEDLINE_REDIS_URL", "value": "rediss-cluster://redis.example:6379"},
            ]),
            json!([]),
        ),
    };
    let mut container = json!({
        "name": service.name,
        "environment": environment,
        "secrets": secrets,
        "portMappings": [{"containerPort": service.port, "protocol": "tcp"}],
        "healthCheck": {"command": healthcheck_command(service), "interval": 10},
    });
    edit(&mut container);
    check_ecs(
        service,
        &json!({"family": service.name, "containerDefinitions": [container]}),
    )
}

/// Adds a plain environment variable.
fn push_env(container: &mut Value, name: &str, value: &str) {
    container["environment"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": name, "value": value}));
}

#[test]
fn a_file_that_keeps_every_rule_passes() {
    for service in &SERVICES {
        assert_eq!(problems(service, |_| {}), Vec::<String>::new());
    }
}

#[test]
fn secrets_in_plain_environment_fire() {
    let found = problems(POST, |c| push_env(c, "FEEDLINE_ADMIN_TOKEN", "t"));
    // post-service does not read it either: both rules fire.
    assert!(
        found
            .iter()
            .any(|p| p.contains("FEEDLINE_ADMIN_TOKEN is in plain environment")),
        "{found:#?}"
    );
}

#[test]
fn unknown_variable_fires() {
    let typo = "FEEDLINE_TIMELINE_CAPP";
    fires(
        problems(FEED_READ, |c| set(c, "/environment/1/name", typo.into())),
        &["ecs: feed-read-service", typo, "never reads it"],
    );
}

#[test]
fn wrong_port_fires() {
    fires(
        problems(POST, |c| {
            set(c, "/portMappings/0/containerPort", 8080.into())
        }),
        &["post-service", "containerPort is 8080", "50051"],
    );
    fires(
        problems(POST, |c| {
            push_env(c, "FEEDLINE_LISTEN_ADDR", "0.0.0.0:9000")
        }),
        &["post-service", "FEEDLINE_LISTEN_ADDR", "9000"],
    );
}

#[test]
fn bad_url_host_fires() {
    let url =
        |value: &'static str| move |c: &mut Value| set(c, "/environment/0/value", value.into());
    fires(
        problems(FEED_READ, url("http://post-service:50051")),
        &[
            "FEEDLINE_POST_SERVICE_URL",
            "not a feedline service",
            "post-service.feedline.local",
        ],
    );
    fires(
        problems(FEED_READ, url("http://post-service.feedline.local:50053")),
        &["FEEDLINE_POST_SERVICE_URL", "post-service listens on 50051"],
    );
}

#[test]
fn an_address_the_config_reads_but_is_not_given_fires() {
    fires(
        problems(FEED_READ, |c| {
            drop_var(c, "environment", "FEEDLINE_REDIS_URL")
        }),
        &["feed-read-service", "reads FEEDLINE_REDIS_URL", "not set"],
    );
    // post-service counts its rate limits in Redis only with authentication on: without it
    // the URL is not read, so not needed; with it, it is.
    let with_auth = |c: &mut Value| {
        c["secrets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "FEEDLINE_AUTH_JWKS", "valueFrom": "arn:aws:secretsmanager:j"}));
    };
    fires(
        problems(POST, with_auth),
        &["post-service", "reads FEEDLINE_REDIS_URL", "not set"],
    );
    let redis = "rediss-cluster://redis.example:6379";
    assert_eq!(
        problems(POST, |c| {
            with_auth(c);
            push_env(c, "FEEDLINE_REDIS_URL", redis);
        }),
        Vec::<String>::new()
    );
    // Both limits off: the limiter is off, and FEEDLINE_REDIS_URL would be set for nothing.
    fires(
        problems(POST, |c| {
            with_auth(c);
            push_env(c, "FEEDLINE_RATE_LIMIT_POSTS", "0");
            push_env(c, "FEEDLINE_RATE_LIMIT_FOLLOWS", "0");
            push_env(c, "FEEDLINE_REDIS_URL", redis);
        }),
        &[
            "post-service",
            "FEEDLINE_REDIS_URL is set but",
            "never reads it",
        ],
    );
}

#[test]
fn missing_healthcheck_fires() {
    fires(
        problems(POST, |c| {
            c.as_object_mut().unwrap().remove("healthCheck");
        }),
        &["post-service", "healthCheck.command is missing"],
    );
    fires(
        problems(POST, |c| {
            set(
                c,
                "/healthCheck/command/1",
                "/usr/local/bin/fanout-service".into(),
            )
        }),
        &["post-service", "healthCheck.command"],
    );
}

#[test]
fn secret_placeholders_satisfy_the_config() {
    // A secret whose placeholder the config rejected would be reported as a config error:
    // log-ingest-service takes both its database URL and its admin token from secrets.
    assert_eq!(problems(LOG_INGEST, |_| {}), Vec::<String>::new());
    fires(
        problems(POST, |c| {
            set(c, "/secrets/0/name", "FEEDLINE_NODE_ID".into())
        }),
        &["rejects", "FEEDLINE_NODE_ID"],
    );
}

/// Adds what ECS gives a service that serves TLS: the three PEM secrets and the health check's
/// name.
fn with_tls(container: &mut Value, service: &Service) {
    for name in ["FEEDLINE_TLS_CERT", "FEEDLINE_TLS_KEY", "FEEDLINE_TLS_CA"] {
        container["secrets"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": name, "valueFrom": "arn:aws:secretsmanager:tls"}));
    }
    let server_name = format!("{}.feedline.local", service.name);
    push_env(container, "FEEDLINE_TLS_SERVER_NAME", &server_name);
}

/// Removes the variable `name` from `list` (`environment` or `secrets`).
fn drop_var(container: &mut Value, list: &str, name: &str) {
    container[list]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["name"] != name);
}

#[test]
fn tls_from_secrets_satisfies_the_config() {
    // The secrets' placeholders are real PEM: the config reads the certificate, key and CA.
    for service in &SERVICES {
        assert_eq!(
            problems(service, |c| with_tls(c, service)),
            Vec::<String>::new()
        );
    }
    // A certificate without its key: the config refuses to start.
    fires(
        problems(POST, |c| {
            with_tls(c, POST);
            drop_var(c, "secrets", "FEEDLINE_TLS_KEY");
        }),
        &["post-service", "rejects", "FEEDLINE_TLS_KEY"],
    );
}

#[test]
fn a_private_key_in_plain_environment_fires() {
    let key = TestCa::new().unwrap().key_pem().to_owned();
    fires(
        problems(FEED_READ, |c| {
            with_tls(c, FEED_READ);
            drop_var(c, "secrets", "FEEDLINE_TLS_KEY");
            push_env(c, "FEEDLINE_TLS_KEY", &key);
        }),
        &[
            "feed-read-service",
            "FEEDLINE_TLS_KEY is in plain environment",
        ],
    );
}
