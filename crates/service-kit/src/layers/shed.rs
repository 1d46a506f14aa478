//! Global concurrency limit that sheds excess calls immediately with RESOURCE_EXHAUSTED.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::guard::{Guard, Guarded};

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
        Guarded::new(inner, self.clone())
    }
}

/// The service made by [`ShedLayer`].
pub type ShedService<S> = Guarded<S, ShedLayer>;

impl Guard for ShedLayer {
    /// The concurrency permit, released when the response head is ready; a stream's body is
    /// not counted, streams bound their own work.
    type Ticket = OwnedSemaphorePermit;

    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<Self::Ticket, tonic::Status> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            tracing::warn!(
                path = request.uri().path(),
                "shedding call: concurrency limit reached"
            );
            tonic::Status::resource_exhausted(
                "server is at its concurrency limit; retry with backoff",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_calls::{answer, grpc_status, request};
    use super::*;
    use tower::{Layer as _, Service as _, ServiceExt as _};

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

        let held = svc.ready().await.unwrap().call(request("/a.B/C"));
        let held = tokio::spawn(held);
        // The permit is taken synchronously by `call`, so the next call is over the limit.
        let shed = answer(&mut svc, "/a.B/C").await;
        assert_eq!(grpc_status(&shed), Some("8"), "RESOURCE_EXHAUSTED");

        let exempt = svc
            .ready()
            .await
            .unwrap()
            .call(request("/grpc.health.v1.Health/Check"));
        let exempt = tokio::spawn(exempt);
        release_tx.send(true).unwrap();
        assert_eq!(held.await.unwrap().unwrap().body(), "done");
        assert_eq!(
            exempt.await.unwrap().unwrap().body(),
            "done",
            "health is never shed"
        );
        let again = answer(&mut svc, "/a.B/C").await;
        assert_eq!(again.body(), "done", "the permit came back");
    }
}
