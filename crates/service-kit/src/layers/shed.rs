//! Global concurrency limit that sheds excess calls immediately with RESOURCE_EXHAUSTED.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;

/// Admits at most `max` calls at once across all connections (tonic applies layers per
/// connection, so the semaphore is shared through an `Arc` rather than made per layer call).
/// A call past the limit is answered RESOURCE_EXHAUSTED without waiting: a queue in front of a
/// saturated service only adds latency and memory.
#[derive(Clone, Debug)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    /// A limit of `max` concurrent calls.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = ShedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShedService {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// The service made by [`ShedLayer`].
#[derive(Clone, Debug)]
pub struct ShedService<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for ShedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if super::is_exempt(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let future = self.inner.call(request);
                Box::pin(async move {
                    // Held until the response head is ready; a stream's body is not counted,
                    // streams bound their own work.
                    let response = future.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => {
                tracing::warn!(
                    path = request.uri().path(),
                    "shedding call: concurrency limit reached"
                );
                let status = tonic::Status::resource_exhausted(
                    "server is at its concurrency limit; retry with backoff",
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    fn grpc_status(response: &http::Response<String>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn sheds_beyond_the_limit_and_admits_again_after() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let inner = tower::service_fn(move |_req: http::Request<()>| {
            let mut release = release_rx.clone();
            async move {
                // Hold the call until the test releases it.
                let _ = release.wait_for(|r| *r).await;
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("done")))
            }
        });
        let mut svc = ShedLayer::new(1).layer(inner);
        let call = |path: &str| http::Request::builder().uri(path).body(()).unwrap();

        let held = svc.ready().await.unwrap().call(call("/a.B/C"));
        let held = tokio::spawn(held);
        // The permit is taken synchronously by `call`, so the next call is over the limit.
        let shed = svc
            .ready()
            .await
            .unwrap()
            .call(call("/a.B/C"))
            .await
            .unwrap();
        assert_eq!(grpc_status(&shed), Some("8"), "RESOURCE_EXHAUSTED");

        let exempt = svc
            .ready()
            .await
            .unwrap()
            .call(call("/grpc.health.v1.Health/Check"));
        let exempt = tokio::spawn(exempt);
        release_tx.send(true).unwrap();
        assert_eq!(held.await.unwrap().unwrap().body(), "done");
        assert_eq!(
            exempt.await.unwrap().unwrap().body(),
            "done",
            "health is never shed"
        );
        let again = svc
            .ready()
            .await
            .unwrap()
            .call(call("/a.B/C"))
            .await
            .unwrap();
        assert_eq!(again.body(), "done", "the permit came back");
    }
}
