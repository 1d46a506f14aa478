//! Open streaming calls counted against one per-service limit for their whole life, not only
//! until their response head (which is all [`super::ShedLayer`] sees of a stream).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use feedline_proto::prost::Message as _;
use feedline_proto::prost_types::FileDescriptorSet;
use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::guard::{Guard, Guarded};

/// What a refused stream is told to wait before it tries again: streams of this service last
/// long, so a slot seldom frees within milliseconds.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Admits at most `max` streaming calls (client, server or bidi streaming) open at once across
/// every connection. A stream past the limit is answered RESOURCE_EXHAUSTED with `RetryInfo` at
/// once, before its body is read. An admitted stream finds an [`OpenStream`] in its request's
/// extensions; the handler takes it ([`OpenStream::take`]) and [`hold`]s it with its response
/// stream, so the slot is counted until that stream ends or is dropped (the call cancelled).
/// A handler that does not take it keeps the slot only until its response head is ready.
/// Unary calls pass untouched (they are bounded by the shed layer).
#[derive(Clone, Debug)]
pub struct StreamLimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
    /// `/package.Service/Method` of every streaming method.
    streaming: Arc<HashSet<String>>,
}

impl StreamLimitLayer {
    /// A limit of `max` open streams over the methods in `streaming`.
    pub fn new(max: usize, streaming: HashSet<String>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            streaming: Arc::new(streaming),
        }
    }

    /// A limit of `max` open streams over the streaming methods of feedline's own protos (the
    /// one fact of which methods stream is the proto, so nothing is listed by hand).
    pub fn for_feedline(max: usize) -> Self {
        Self::new(max, streaming_methods(feedline_proto::FILE_DESCRIPTOR_SET))
    }
}

/// The paths (`/package.Service/Method`) of the streaming methods in an encoded
/// `FileDescriptorSet`; none if it does not decode.
pub fn streaming_methods(descriptor_set: &[u8]) -> HashSet<String> {
    let Ok(set) = FileDescriptorSet::decode(descriptor_set) else {
        tracing::error!("the file descriptor set does not decode: no method counts as a stream");
        return HashSet::new();
    };
    let mut paths = HashSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    paths.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    paths
}

impl<S> tower::Layer<S> for StreamLimitLayer {
    type Service = StreamLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded::new(inner, self.clone())
    }
}

/// The service made by [`StreamLimitLayer`].
pub type StreamLimitService<S> = Guarded<S, StreamLimitLayer>;

impl Guard for StreamLimitLayer {
    /// Only the streaming methods: unary calls are bounded by the shed layer.
    fn applies(&self, path: &str) -> bool {
        self.streaming.contains(path)
    }

    /// The stream's slot; the handler's copy, if it took one, holds it alone once the response
    /// head is ready.
    type Ticket = OpenStream;

    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<Self::Ticket, tonic::Status> {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!(
                path = request.uri().path(),
                max = self.max,
                "refusing stream: open stream limit reached"
            );
            return Err(crate::status::with_retry_after(
                tonic::Code::ResourceExhausted,
                format!(
                    "server has {} streams open, its limit; retry with backoff",
                    self.max
                ),
                RETRY_AFTER,
            ));
        };
        let open = OpenStream {
            _permit: Arc::new(permit),
        };
        request.extensions_mut().insert(open.clone());
        Ok(open)
    }
}

/// One admitted stream's slot under [`StreamLimitLayer`]; the slot frees when the last copy
/// is dropped.
#[derive(Clone, Debug)]
pub struct OpenStream {
    _permit: Arc<OwnedSemaphorePermit>,
}

impl OpenStream {
    /// Takes the slot the layer put in `request`'s extensions (none when the call did not come
    /// through the layer, as in a handler's unit test). Take it before `into_inner()`.
    pub fn take<T>(request: &mut tonic::Request<T>) -> Option<OpenStream> {
        request.extensions_mut().remove::<OpenStream>()
    }
}

pin_project_lite::pin_project! {
    /// A response stream holding its call's [`OpenStream`] until it ends or is dropped.
    pub struct Held<St> {
        #[pin]
        stream: St,
        // Dropped when `stream` ends; otherwise with this value, when tonic drops the response
        // body (the call finished or was cancelled).
        open: Option<OpenStream>,
    }
}

/// `stream`, holding `open` until it ends or is dropped.
pub fn hold<St: Stream>(open: Option<OpenStream>, stream: St) -> Held<St> {
    Held { stream, open }
}

impl<St: Stream> Stream for Held<St> {
    type Item = St::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let next = this.stream.poll_next(cx);
        if let Poll::Ready(None) = next {
            *this.open = None;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_calls::{answer, grpc_status};
    use super::*;
    use futures::StreamExt as _;
    use tower::Layer as _;

    const STREAM: &str = "/feedline.fanout.v1.FanoutService/Fanout";

    #[test]
    fn the_streaming_methods_come_from_the_protos() {
        let paths = streaming_methods(feedline_proto::FILE_DESCRIPTOR_SET);
        assert!(paths.contains(STREAM), "{paths:?}");
        assert!(paths.contains("/feedline.logs.v1.LogService/IngestStream"));
        assert!(
            !paths.contains("/feedline.logs.v1.LogService/Ingest"),
            "unary"
        );
        assert!(streaming_methods(b"\xff\xff").is_empty());
    }

    #[tokio::test]
    async fn a_held_stream_keeps_its_slot_until_it_is_dropped() {
        // The handler takes the slot and hands it out with its "response stream".
        let (held_tx, mut held_rx) = tokio::sync::mpsc::unbounded_channel();
        let inner = tower::service_fn(move |req: http::Request<()>| {
            let held_tx = held_tx.clone();
            async move {
                let mut req = tonic::Request::from_http(req);
                let open = OpenStream::take(&mut req);
                let _ = held_tx.send(hold(open, futures::stream::pending::<()>()));
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("open")))
            }
        });
        let streaming = HashSet::from([STREAM.to_owned()]);
        let mut svc = StreamLimitLayer::new(1, streaming).layer(inner);

        let first = answer(&mut svc, STREAM).await;
        assert_eq!(first.body(), "open");
        let held = held_rx.recv().await.unwrap();
        let refused = answer(&mut svc, STREAM).await;
        assert_eq!(grpc_status(&refused), Some("8"), "RESOURCE_EXHAUSTED");
        let unary = answer(&mut svc, "/a.B/Unary").await;
        assert_eq!(unary.body(), "open", "unary calls are not counted");
        drop(held_rx.recv().await); // the unary call's stream
        drop(held);
        let again = answer(&mut svc, STREAM).await;
        assert_eq!(again.body(), "open", "the slot came back");
        // A stream that ends frees its slot even before it is dropped.
        let mut ended = hold(
            held_rx.recv().await.unwrap().open.take(),
            futures::stream::empty::<()>(),
        );
        assert!(ended.next().await.is_none());
        let more = answer(&mut svc, STREAM).await;
        assert_eq!(more.body(), "open");
    }
}
