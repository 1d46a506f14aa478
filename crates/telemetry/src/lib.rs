//! Telemetry for every feedline process: the tracing subscriber (text or JSON lines), OTLP
//! export of traces and metrics, `/metrics` for Prometheus, RED metrics per RPC, and W3C
//! trace-context propagation across gRPC calls and outbox rows.
//!
//! - [`TelemetrySettings::from_env`] reads and validates every setting; [`init`] installs the
//!   subscriber and the global meter provider once per process, and starts the admin server
//!   (`FEEDLINE_METRICS_ADDR`). Export is on only when an OTLP endpoint is configured (the
//!   standard `OTEL_EXPORTER_OTLP_ENDPOINT`).
//! - [`inject_trace_context`] is a tonic client interceptor; [`GrpcTraceLayer`] is the server
//!   side, and [`RpcMetricsLayer`] measures each inbound call.
//! - [`current_trace_context`] / [`context_from_w3c`] carry a trace through a database row, so the
//!   asynchronous fan-out joins the trace of the request that caused it.

mod config;
mod init;
mod json_log;
mod metrics;
mod propagation;
mod rpc_metrics;
mod server_layer;

pub use config::{
    ENV_VARS, LogFormat, MetricsConfig, SettingError, TelemetryConfig, TelemetrySettings,
    default_metrics_addr,
};
pub use init::{TelemetryError, TelemetryGuard, init};
pub use propagation::{
    TracedChannel, W3cContext, context_from_w3c, current_trace_context, inject_trace_context,
    trace_id_of, traced,
};
pub use rpc_metrics::{MeasuredBody, RpcMetricsLayer, RpcMetricsService};
pub use server_layer::{GrpcTraceLayer, GrpcTraceService};
