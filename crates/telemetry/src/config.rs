//! Telemetry settings, read from the standard OpenTelemetry environment variables and feedline's
//! own `FEEDLINE_METRICS_ADDR` and `FEEDLINE_LOG_FORMAT`.

use std::collections::HashMap;
use std::net::SocketAddr;

/// The variables [`TelemetrySettings::from_env`] reads.
const CONFIG_ENV_VARS: &[&str] = &[
    "FEEDLINE_LOG_FORMAT",
    "FEEDLINE_METRICS_ADDR",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_METRICS_EXPORTER",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "RUST_LOG",
];

/// The variables the OpenTelemetry SDK reads from the process environment by itself and that
/// feedline documents (checked in the opentelemetry_sdk and opentelemetry-otlp 0.33 sources):
/// `Resource::builder()` runs the env detector (`OTEL_RESOURCE_ATTRIBUTES`), the default trace
/// config reads the sampler, the tonic exporter reads its timeout and headers, and the periodic
/// metric reader its interval.
const SDK_ENV_VARS: &[&str] = &[
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_METRIC_EXPORT_INTERVAL",
];

/// Every variable telemetry reads, ours and the SDK's: a deployment file may set these besides
/// the service's own `FEEDLINE_*` ones (the deployment-consistency test checks exactly that).
pub const ENV_VARS: &[&str] = &{
    let mut all = [""; CONFIG_ENV_VARS.len() + SDK_ENV_VARS.len()];
    let mut i = 0;
    while i < CONFIG_ENV_VARS.len() {
        all[i] = CONFIG_ENV_VARS[i];
        i += 1;
    }
    while i < all.len() {
        all[i] = SDK_ENV_VARS[i - CONFIG_ENV_VARS.len()];
        i += 1;
    }
    all
};

/// The admin port (`/metrics`, `/healthz`) of each service when `FEEDLINE_METRICS_ADDR` is not
/// set: one place, so compose, ECS and the README agree. Other processes default to off.
const DEFAULT_METRICS_PORTS: &[(&str, u16)] = &[
    ("post-service", 9651),
    ("fanout-service", 9652),
    ("feed-read-service", 9653),
    ("log-ingest-service", 9654),
];

/// Where the OTLP exporters send when `OTEL_METRICS_EXPORTER=otlp` names no endpoint (the
/// OpenTelemetry specification's default for gRPC).
const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4317";

/// Traces and the log filter: what [`crate::init`] needs for spans and log lines. Tests build
/// it directly (pointing it at an in-process receiver); a service reads every setting with
/// [`TelemetrySettings::from_env`].
#[derive(Clone, Debug, Default)]
pub struct TelemetryConfig {
    /// `service.name` of exported spans: `OTEL_SERVICE_NAME`, else the binary's default.
    pub service_name: String,
    /// OTLP/gRPC endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`).
    /// `None` turns export off: spans still feed the log output, nothing leaves the process.
    pub otlp_endpoint: Option<String>,
    /// Log filter directives (`RUST_LOG` syntax); `None` means `info`.
    pub log_filter: Option<String>,
}

/// How log lines are written to stderr (`FEEDLINE_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (`text`, the default).
    #[default]
    Text,
    /// One JSON object a line (`json`), with the OpenTelemetry `trace_id` and `span_id` of the
    /// current span at the top level, so a log line finds its trace in Jaeger.
    Json,
}

/// Where metrics go. The global meter provider is installed whatever these say; with neither
/// set, instruments record into nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The admin HTTP server's address (`FEEDLINE_METRICS_ADDR`): `/metrics` in the Prometheus
    /// text format and `/healthz`. `None` (`off`) serves nothing.
    pub admin_addr: Option<SocketAddr>,
    /// OTLP/gRPC endpoint for metrics (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`), pushed every `OTEL_METRIC_EXPORT_INTERVAL` ms (60 s by
    /// default). `None` when `OTEL_METRICS_EXPORTER` says `none` or `prometheus`.
    pub otlp_endpoint: Option<String>,
}

/// Every telemetry setting of a service process: traces and log filter, log format, metrics.
#[derive(Clone, Debug, Default)]
pub struct TelemetrySettings {
    /// Traces and the log filter.
    pub config: TelemetryConfig,
    /// Text or JSON log lines.
    pub log_format: LogFormat,
    /// The admin port and OTLP metrics.
    pub metrics: MetricsConfig,
}

/// A telemetry variable whose value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct SettingError {
    /// The variable's name.
    pub variable: &'static str,
    /// What it was set to.
    pub value: String,
    /// Why it is refused and what would be accepted.
    pub reason: String,
}

impl TelemetryConfig {
    /// Reads the standard variables from `env`. `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none` turn export off even when an endpoint is set.
    pub fn from_env(env: &HashMap<String, String>, default_service_name: &str) -> Self {
        Self::from_lookup(|key| env.get(key).map(String::as_str), default_service_name)
    }

    /// [`TelemetryConfig::from_env`] over any lookup, so a test can see which names are read.
    fn from_lookup<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
        default_service_name: &str,
    ) -> Self {
        let get = |key: &str| lookup(key).map(str::trim).filter(|v| !v.is_empty());
        let disabled = sdk_disabled(&get)
            || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .filter(|_| !disabled)
            .map(str::to_owned);
        Self {
            service_name: get("OTEL_SERVICE_NAME")
                .unwrap_or(default_service_name)
                .to_owned(),
            otlp_endpoint: endpoint,
            log_filter: get("RUST_LOG").map(str::to_owned),
        }
    }
}

impl TelemetrySettings {
    /// Reads and validates every telemetry variable from `env`; `default_service_name` (the
    /// binary's name) also chooses the default admin port. Call it before binding any port: a
    /// bad value is a configuration error (exit 64).
    pub fn from_env(
        env: &HashMap<String, String>,
        default_service_name: &str,
    ) -> Result<Self, SettingError> {
        Self::from_lookup(|key| env.get(key).map(String::as_str), default_service_name)
    }

    /// [`TelemetrySettings::from_env`] over any lookup, so a test can see which names are read.
    fn from_lookup<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
        default_service_name: &str,
    ) -> Result<Self, SettingError> {
        let config = TelemetryConfig::from_lookup(&lookup, default_service_name);
        let get = |key: &str| lookup(key).map(str::trim).filter(|v| !v.is_empty());
        check_protocol(get("OTEL_EXPORTER_OTLP_PROTOCOL"))?;
        let log_format = match get("FEEDLINE_LOG_FORMAT") {
            None => LogFormat::Text,
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) => return Err(refused("FEEDLINE_LOG_FORMAT", v, "expected text or json")),
        };
        let admin_addr = match get("FEEDLINE_METRICS_ADDR") {
            None => default_metrics_addr(default_service_name),
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(v.parse().map_err(|_| {
                refused(
                    "FEEDLINE_METRICS_ADDR",
                    v,
                    "expected host:port (e.g. 0.0.0.0:9651) or off",
                )
            })?),
        };
        let endpoint = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"));
        let otlp = match get("OTEL_METRICS_EXPORTER") {
            None => endpoint.is_some(),
            Some(v) => exporters_include_otlp(v)?,
        };
        let otlp_endpoint = (otlp && !sdk_disabled(&get))
            .then(|| endpoint.unwrap_or(DEFAULT_OTLP_ENDPOINT).to_owned());
        Ok(Self {
            config,
            log_format,
            metrics: MetricsConfig {
                admin_addr,
                otlp_endpoint,
            },
        })
    }
}

impl From<&TelemetryConfig> for TelemetrySettings {
    /// Text logs, no admin port, and OTLP metrics to the traces' endpoint: what a test that
    /// builds a [`TelemetryConfig`] by hand had before metrics had settings of their own.
    fn from(config: &TelemetryConfig) -> Self {
        Self {
            config: config.clone(),
            log_format: LogFormat::Text,
            metrics: MetricsConfig {
                admin_addr: None,
                otlp_endpoint: config.otlp_endpoint.clone(),
            },
        }
    }
}

impl From<&TelemetrySettings> for TelemetrySettings {
    fn from(settings: &TelemetrySettings) -> Self {
        settings.clone()
    }
}

/// The admin address a service listens on when `FEEDLINE_METRICS_ADDR` is not set.
pub fn default_metrics_addr(service_name: &str) -> Option<SocketAddr> {
    DEFAULT_METRICS_PORTS
        .iter()
        .find(|(name, _)| *name == service_name)
        .map(|&(_, port)| SocketAddr::from(([0, 0, 0, 0], port)))
}

fn sdk_disabled<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> bool {
    get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether an `OTEL_METRICS_EXPORTER` list asks for OTLP. `prometheus` is accepted (the admin
/// port serves it, governed by `FEEDLINE_METRICS_ADDR`); `none` stands alone.
fn exporters_include_otlp(list: &str) -> Result<bool, SettingError> {
    let names: Vec<String> = list.split(',').map(|n| n.trim().to_lowercase()).collect();
    let unknown = names
        .iter()
        .any(|n| !matches!(n.as_str(), "otlp" | "prometheus" | "none"));
    let none_with_others = names.len() > 1 && names.iter().any(|n| n == "none");
    if unknown || none_with_others {
        return Err(refused(
            "OTEL_METRICS_EXPORTER",
            list,
            "expected otlp, prometheus, otlp,prometheus or none",
        ));
    }
    Ok(names.iter().any(|n| n == "otlp"))
}

/// Only OTLP over gRPC is built in (the HTTP exporters would bring an HTTP client stack of
/// their own): asking for HTTP is refused at start rather than silently sent over gRPC.
fn check_protocol(protocol: Option<&str>) -> Result<(), SettingError> {
    match protocol {
        None => Ok(()),
        Some(p) if p.eq_ignore_ascii_case("grpc") => Ok(()),
        Some(p) => Err(refused(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            p,
            "feedline exports OTLP over gRPC only: expected grpc (http/protobuf and http/json \
             are not built in; point the exporter at a collector's gRPC port, 4317)",
        )),
    }
}

fn refused(variable: &'static str, value: &str, reason: &str) -> SettingError {
    SettingError {
        variable,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
