//! Tests of the telemetry settings: defaults, the SDK variables honoured or refused.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn settings(pairs: &[(&str, &str)]) -> Result<TelemetrySettings, SettingError> {
    TelemetrySettings::from_env(&env(pairs), "post-service")
}

#[test]
fn env_vars_lists_what_from_env_reads_and_the_sdk_variables() {
    let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let _ = TelemetrySettings::from_lookup(
        |key| {
            read.borrow_mut().insert(key.to_owned());
            None
        },
        "x",
    );
    let read = read.into_inner();
    let listed: std::collections::BTreeSet<String> =
        CONFIG_ENV_VARS.iter().map(|v| v.to_string()).collect();
    assert_eq!(read, listed);
    assert_eq!(ENV_VARS.len(), CONFIG_ENV_VARS.len() + SDK_ENV_VARS.len());
    for name in CONFIG_ENV_VARS.iter().chain(SDK_ENV_VARS) {
        assert!(ENV_VARS.contains(name), "{name}");
    }
}

#[test]
fn export_is_off_without_an_endpoint() {
    let c = TelemetryConfig::from_env(&env(&[]), "post-service");
    assert_eq!(c.otlp_endpoint, None);
    assert_eq!(c.service_name, "post-service");
    let s = settings(&[]).unwrap();
    assert_eq!(s.metrics.otlp_endpoint, None);
    assert_eq!(s.log_format, LogFormat::Text);
}

#[test]
fn traces_endpoint_wins_and_sdk_disabled_turns_export_off() {
    let c = TelemetryConfig::from_env(
        &env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4317"),
            ("OTEL_SERVICE_NAME", "custom"),
        ]),
        "post-service",
    );
    assert_eq!(c.otlp_endpoint.as_deref(), Some("http://b:4317"));
    assert_eq!(c.service_name, "custom");
    let s = settings(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
        ("OTEL_SDK_DISABLED", "true"),
    ])
    .unwrap();
    assert_eq!(s.config.otlp_endpoint, None);
    assert_eq!(s.metrics.otlp_endpoint, None);
}

#[test]
fn each_service_has_its_admin_port_and_off_turns_it_off() {
    let port = |name| TelemetrySettings::from_env(&env(&[]), name).unwrap();
    let ports: Vec<_> = DEFAULT_METRICS_PORTS
        .iter()
        .map(|(name, _)| port(name).metrics.admin_addr.map(|a| a.port()))
        .collect();
    assert_eq!(ports, [Some(9651), Some(9652), Some(9653), Some(9654)]);
    assert_eq!(port("loadgen").metrics.admin_addr, None);
    let s = settings(&[("FEEDLINE_METRICS_ADDR", "OFF")]).unwrap();
    assert_eq!(s.metrics.admin_addr, None);
    let s = settings(&[("FEEDLINE_METRICS_ADDR", "127.0.0.1:0")]).unwrap();
    assert_eq!(s.metrics.admin_addr, Some("127.0.0.1:0".parse().unwrap()));
    let error = settings(&[("FEEDLINE_METRICS_ADDR", "9651")]).unwrap_err();
    assert_eq!(error.variable, "FEEDLINE_METRICS_ADDR");
}

#[test]
fn metrics_endpoint_and_exporter_choose_otlp_metrics() {
    let otlp = |pairs: &[(&str, &str)]| settings(pairs).unwrap().metrics.otlp_endpoint;
    let general = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317");
    let metrics = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317");
    assert_eq!(otlp(&[general]).as_deref(), Some("http://a:4317"));
    assert_eq!(otlp(&[general, metrics]).as_deref(), Some("http://m:4317"));
    // Metrics keep going when only traces are turned off, and the other way round.
    let no_traces = ("OTEL_TRACES_EXPORTER", "none");
    assert_eq!(
        otlp(&[general, no_traces]).as_deref(),
        Some("http://a:4317")
    );
    let s = settings(&[general, ("OTEL_METRICS_EXPORTER", "none")]).unwrap();
    assert_eq!(s.metrics.otlp_endpoint, None);
    assert_eq!(s.config.otlp_endpoint.as_deref(), Some("http://a:4317"));
    assert_eq!(
        otlp(&[general, ("OTEL_METRICS_EXPORTER", "prometheus")]),
        None
    );
    let both = ("OTEL_METRICS_EXPORTER", "otlp, prometheus");
    assert_eq!(otlp(&[general, both]).as_deref(), Some("http://a:4317"));
    let explicit = ("OTEL_METRICS_EXPORTER", "otlp");
    assert_eq!(otlp(&[explicit]).as_deref(), Some(DEFAULT_OTLP_ENDPOINT));
    for bad in ["console", "none,otlp"] {
        let error = settings(&[("OTEL_METRICS_EXPORTER", bad)]).unwrap_err();
        assert_eq!(error.variable, "OTEL_METRICS_EXPORTER", "{bad}");
    }
}

#[test]
fn only_grpc_is_accepted_as_the_otlp_protocol() {
    assert!(settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).is_ok());
    let error = settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).unwrap_err();
    assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
    assert!(error.to_string().contains("gRPC only"), "{error}");
}

#[test]
fn log_format_is_text_or_json() {
    let format = |v| settings(&[("FEEDLINE_LOG_FORMAT", v)]).map(|s| s.log_format);
    assert_eq!(format("json").unwrap(), LogFormat::Json);
    assert_eq!(format("TEXT").unwrap(), LogFormat::Text);
    assert_eq!(format("yaml").unwrap_err().variable, "FEEDLINE_LOG_FORMAT");
}
