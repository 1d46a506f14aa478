//! Server-side RED metrics per RPC: the OpenTelemetry semantic conventions' histogram
//! `rpc.server.call.duration` (seconds), by method and gRPC status code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;

/// Bucket bounds in seconds: sub-millisecond cache hits up to calls cut by the 10 s deadline.
const BOUNDS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
    10.0,
];

/// Health checks and reflection are not the service's API: counting an orchestrator's probes
/// every few seconds would blur the rates and errors an operator watches.
const UNMEASURED: [&str; 2] = ["/grpc.health.", "/grpc.reflection."];

/// Records every inbound call's duration, from its request head to the end of its response
/// (the trailers that carry `grpc-status`), so a stream is measured over its whole life and
/// counted with the code it ended with. Attributes: `rpc.system.name` = `grpc`, `rpc.method` =
/// `package.Service/Method`, `rpc.response.status_code` = the code's name (`OK`, `NOT_FOUND`...).
/// A call whose response is dropped before its trailers (the client went away) counts as
/// `CANCELLED`. Place it just inside the trace layer, so that the codes the other layers
/// answer with (auth, shedding, deadlines) are counted too.
#[derive(Clone, Debug)]
pub struct RpcMetricsLayer {
    duration: Histogram<f64>,
}

impl RpcMetricsLayer {
    /// Makes the histogram on the global meter provider: build the server after
    /// [`crate::init`], or the calls are recorded into a no-op provider.
    pub fn new() -> Self {
        let duration = opentelemetry::global::meter("feedline")
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("Duration of inbound gRPC calls, to the end of the response")
            .with_boundaries(BOUNDS.to_vec())
            .build();
        Self { duration }
    }
}

impl Default for RpcMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            duration: self.duration.clone(),
        }
    }
}

/// The service made by [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RpcMetricsService<S> {
    inner: S,
    duration: Histogram<f64>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<MeasuredBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let call = (!UNMEASURED.iter().any(|p| path.starts_with(p))).then(|| Call {
            start: Instant::now(),
            method: path.trim_start_matches('/').to_owned(),
            status: None,
            duration: self.duration.clone(),
        });
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let mut call = call;
            if let Some(call) = &mut call {
                // A trailers-only answer (an error before any message) has its status here.
                call.status = status_name(response.headers());
            }
            Ok(response.map(|inner| MeasuredBody { inner, call }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call when its trailers pass or when it is dropped.
    pub struct MeasuredBody<B> {
        #[pin]
        inner: B,
        // Recorded on drop; taken (and so recorded) as soon as the trailers are seen.
        call: Option<Call>,
    }
}

impl<B: http_body::Body> http_body::Body for MeasuredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut call) = this.call.take()
                {
                    call.status = status_name(trailers).or(call.status);
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call {
                    call.status.get_or_insert("UNKNOWN");
                }
            }
            None => {
                if let Some(mut call) = this.call.take() {
                    call.status.get_or_insert("UNKNOWN");
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One call being measured; records itself when dropped.
struct Call {
    start: Instant,
    /// `package.Service/Method`.
    method: String,
    /// The code's name once known.
    status: Option<&'static str>,
    duration: Histogram<f64>,
}

impl Drop for Call {
    fn drop(&mut self) {
        let attributes = [
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", std::mem::take(&mut self.method)),
            KeyValue::new(
                "rpc.response.status_code",
                self.status.unwrap_or("CANCELLED"),
            ),
        ];
        self.duration
            .record(self.start.elapsed().as_secs_f64(), &attributes);
    }
}

/// The name of the `grpc-status` in `headers` (headers or trailers), if there is one.
fn status_name(headers: &http::HeaderMap) -> Option<&'static str> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(code_name(code))
}

/// The canonical name of a gRPC status code, as the semantic conventions record it.
pub(crate) fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_canonical_names() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(8), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(17), "UNKNOWN");
        assert_eq!(code_name(-1), "UNKNOWN");
    }

    #[test]
    fn the_status_is_read_from_headers_or_trailers() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_name(&headers), None);
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(status_name(&headers), Some("NOT_FOUND"));
    }
}
