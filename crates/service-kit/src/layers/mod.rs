//! Inbound tower layers, composed once by [`crate::serve`] in this order, outermost first:
//!
//! 1. `feedline_telemetry::GrpcTraceLayer`: the call's span, continuing the caller's trace;
//! 2. `feedline_telemetry::RpcMetricsLayer`: `rpc.server.call.duration` by method and status
//!    code, to the end of the response, so the codes every layer below answers are counted;
//! 3. `feedline_auth::AuthLayer`: the bearer token, from metadata before the body is read
//!    (UNAUTHENTICATED, PERMISSION_DENIED), and the caller for the handler;
//! 4. [`StreamLimitLayer`]: beyond the open-stream limit, a new streaming call gets
//!    RESOURCE_EXHAUSTED with `RetryInfo` at once; an admitted stream is counted for its life;
//! 5. [`DeadlineLayer`]: a call still unanswered after the request timeout gets DEADLINE_EXCEEDED;
//! 6. [`ShedLayer`]: beyond the concurrency limit, RESOURCE_EXHAUSTED at once instead of a queue.
//!
//! Each answers with a proper gRPC status rather than a transport error, so clients see the code.
//! The kit's own three are [`Guard`]s: one [`Guarded`] service does the tower plumbing for all.

mod deadline;
mod guard;
mod shed;
mod streams;
#[cfg(test)]
mod test_calls;

pub use deadline::{DeadlineLayer, DeadlineService};
pub use guard::{Guard, Guarded};
pub use shed::{ShedLayer, ShedService};
pub use streams::{
    Held, OpenStream, StreamLimitLayer, StreamLimitService, hold, streaming_methods,
};

/// Paths that are never shed or timed out: an orchestrator must see health under overload, and
/// reflection is what makes grpcurl work.
pub(crate) fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}
