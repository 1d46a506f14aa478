//! Per-call timeout that answers DEADLINE_EXCEEDED (tower's own timeout yields an error that
//! tonic would report as UNKNOWN).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Bounds the time until a call's response head is ready. A streaming call's body is not
/// bounded here: only its opening is.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    /// Calls get `timeout` to produce their response.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service made by [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    timeout: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for DeadlineService<S>
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
        let timeout = self.timeout;
        let future = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(timeout, future).await {
                Ok(response) => response,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "call did not complete within {} ms",
                    timeout.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, ServiceExt as _};

    #[tokio::test(start_paused = true)]
    async fn slow_calls_get_deadline_exceeded() {
        let inner = tower::service_fn(|req: http::Request<()>| async move {
            if req.uri().path().ends_with("/Slow") {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("done")))
        });
        let svc = DeadlineLayer::new(Duration::from_secs(1)).layer(inner);
        let call = |path: &str| http::Request::builder().uri(path).body(()).unwrap();

        let slow = svc.clone().oneshot(call("/a.B/Slow")).await.unwrap();
        let code = slow.headers().get("grpc-status").unwrap().to_str().unwrap();
        assert_eq!(code, "4", "DEADLINE_EXCEEDED");
        let fast = svc.oneshot(call("/a.B/Fast")).await.unwrap();
        assert_eq!(fast.body(), "done");
    }
}
