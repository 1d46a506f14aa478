//! Telemetry settings, read from the standard OpenTelemetry environment variables.

use std::collections::HashMap;

/// What [`crate::init`] needs to know. Built from the environment by [`TelemetryConfig::from_env`]
/// or directly by tests (which point it at an in-process receiver).
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

impl TelemetryConfig {
    /// Reads the standard variables from `env`. `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none` turn export off even when an endpoint is set.
    pub fn from_env(env: &HashMap<String, String>, default_service_name: &str) -> Self {
        let get = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let disabled = get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn export_is_off_without_an_endpoint() {
        let c = TelemetryConfig::from_env(&env(&[]), "post-service");
        assert_eq!(c.otlp_endpoint, None);
        assert_eq!(c.service_name, "post-service");
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
        let c = TelemetryConfig::from_env(
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
                ("OTEL_SDK_DISABLED", "true"),
            ]),
            "x",
        );
        assert_eq!(c.otlp_endpoint, None);
    }
}
