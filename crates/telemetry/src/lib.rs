//! Telemetry for every feedline process: the tracing subscriber, OTLP trace export and W3C
//! trace-context propagation across gRPC calls and outbox rows.
//!
//! - [`init`] installs the subscriber once per process; export is on only when an OTLP
//!   endpoint is configured (the standard `OTEL_EXPORTER_OTLP_ENDPOINT`).
//! - [`inject_trace_context`] is a tonic client interceptor; [`GrpcTraceLayer`] is the server side.
//! - [`current_trace_context`] / [`context_from_w3c`] carry a trace through a database row, so the
//!   asynchronous fan-out joins the trace of the request that caused it.

mod config;
mod init;
mod propagation;
mod server_layer;

pub use config::{ENV_VARS, TelemetryConfig};
pub use init::{TelemetryError, TelemetryGuard, init};
pub use propagation::{
    TracedChannel, W3cContext, context_from_w3c, current_trace_context, inject_trace_context,
    trace_id_of, traced,
};
pub use server_layer::{GrpcTraceLayer, GrpcTraceService};
