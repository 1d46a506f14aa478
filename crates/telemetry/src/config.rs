//! Telemetry settings, read from the standard OpenTelemetry environment variables.

use std::collections::HashMap;

/// The variables [`TelemetryConfig::from_env`] reads.
const CONFIG_ENV_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "RUST_LOG",
];

/// The variables the OpenTelemetry SDK reads from the process environment by itself and that
/// feedline documents (checked in the opentelemetry_sdk and opentelemetry-otlp 0.33 sources):
/// `Resource::builder()` runs the env detector (`OTEL_RESOURCE_ATTRIBUTES`), the default trace
/// config reads the sampler, and the tonic exporter reads its timeout and headers.
const SDK_ENV_VARS: &[&str] = &[
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_HEADERS",
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
        Self::from_lookup(|key| env.get(key).map(String::as_str), default_service_name)
    }

    /// [`TelemetryConfig::from_env`] over any lookup, so a test can see which names are read.
    fn from_lookup<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
        default_service_name: &str,
    ) -> Self {
        let get = |key: &str| lookup(key).map(str::trim).filter(|v| !v.is_empty());
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
    fn env_vars_lists_what_from_env_reads_and_the_sdk_variables() {
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        TelemetryConfig::from_lookup(
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
