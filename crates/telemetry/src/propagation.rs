//! W3C trace context in gRPC metadata (client side) and in stored rows (outbox events).

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, global};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The two W3C headers of a trace context, as stored in an outbox row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct W3cContext {
    /// `traceparent` (empty when there is no active trace).
    pub traceparent: String,
    /// `tracestate` (often empty).
    pub tracestate: String,
}

/// A client channel whose every call carries the current span's trace context, as a nameable
/// type: `FooClient::new(traced(channel))` makes a client whose calls join the caller's trace.
pub type TracedChannel = tonic::service::interceptor::InterceptedService<
    tonic::transport::Channel,
    fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>,
>;

/// Wraps `channel` so that every call carries the current span's trace context.
pub fn traced(channel: tonic::transport::Channel) -> TracedChannel {
    let inject: fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> =
        inject_trace_context;
    tonic::service::interceptor::InterceptedService::new(channel, inject)
}

/// Tonic client interceptor: writes the current span's context into the request metadata, so
/// the server's [`crate::GrpcTraceLayer`] continues the same trace.
pub fn inject_trace_context(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MetadataInjector(request.metadata_mut()))
    });
    Ok(request)
}

/// The current span's context in W3C form, for storing beside an asynchronous event.
pub fn current_trace_context() -> W3cContext {
    let cx = tracing::Span::current().context();
    let mut carrier = W3cContext::default();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier
}

/// Rebuilds a context from stored W3C headers; an empty or malformed `traceparent` gives a
/// context with no remote parent (so the consumer starts a new trace rather than failing).
pub fn context_from_w3c(stored: &W3cContext) -> Context {
    global::get_text_map_propagator(|p| p.extract(stored))
}

/// The 32-hex-digit trace id of the current span, or `None` outside a sampled trace.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

impl Injector for W3cContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = value,
            "tracestate" => self.tracestate = value,
            _ => {}
        }
    }
}

impl Extractor for W3cContext {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match key {
            "traceparent" => &self.traceparent,
            "tracestate" => &self.tracestate,
            _ => return None,
        };
        (!value.is_empty()).then_some(value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A key or value that is not valid ASCII metadata is dropped: tracing must never fail a call.
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn stored_context_round_trips_through_the_propagator() {
        global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let stored = W3cContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: String::new(),
        };
        let cx = context_from_w3c(&stored);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        assert!(sc.is_remote());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );

        let mut again = W3cContext::default();
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut again));
        assert_eq!(again.traceparent, stored.traceparent);
    }

    #[test]
    fn malformed_traceparent_gives_no_parent() {
        global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let cx = context_from_w3c(&W3cContext {
            traceparent: "garbage".into(),
            tracestate: String::new(),
        });
        assert!(!cx.span().span_context().is_valid());
    }
}
