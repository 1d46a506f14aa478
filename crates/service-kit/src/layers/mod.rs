//! Inbound tower layers, composed once by [`crate::serve`] in this order, outermost first:
//!
//! 1. `feedline_telemetry::GrpcTraceLayer`: the call's span, continuing the caller's trace;
//! 2. `feedline_auth::AuthLayer`: the bearer token, from metadata before the body is read
//!    (UNAUTHENTICATED, PERMISSION_DENIED), and the caller for the handler;
//! 3. [`DeadlineLayer`]: a call still unanswered after the request timeout gets DEADLINE_EXCEEDED;
//! 4. [`ShedLayer`]: beyond the concurrency limit, RESOURCE_EXHAUSTED at once instead of a queue.
//!
//! Both answer with a proper gRPC status rather than a transport error, so clients see the code.

mod deadline;
mod shed;

pub use deadline::{DeadlineLayer, DeadlineService};
pub use shed::{ShedLayer, ShedService};

/// Paths that are never shed or timed out: an orchestrator must see health under overload, and
/// reflection is what makes grpcurl work.
pub(crate) fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}
