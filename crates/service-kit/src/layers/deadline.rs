//! Per-call timeout that answers DEADLINE_EXCEEDED (tower's own timeout yields an error that
//! tonic would report as UNKNOWN), and the inbound deadline handed to the handler's outgoing
//! calls.
//!
//! A call's deadline is the earlier of the caller's `grpc-timeout` and the server's request
//! timeout. The handler runs inside [`crate::retry::with_deadline`], so its outgoing calls
//! derive their timeouts from it ([`crate::retry::outgoing_timeout`]).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::guard::{Guard, Guarded};

/// Bounds the time until a call's response head is ready by the earlier of `grpc-timeout`
/// and the server's timeout. A streaming call's body is not bounded here: only its opening is.
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
        Guarded::new(inner, *self)
    }
}

/// The service made by [`DeadlineLayer`].
pub type DeadlineService<S> = Guarded<S, DeadlineLayer>;

impl Guard for DeadlineLayer {
    /// The call's deadline, and its timeout for the message.
    type Ticket = (Instant, Duration);

    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<Self::Ticket, tonic::Status> {
        let timeout = crate::retry::grpc_timeout(request.headers())
            .map_or(self.timeout, |t| t.min(self.timeout));
        Ok((Instant::now() + timeout, timeout))
    }

    fn run<T: 'static>(
        (deadline, timeout): Self::Ticket,
        response: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, tonic::Status>> + Send + 'static {
        let response = crate::retry::with_deadline(deadline, response);
        async move {
            tokio::time::timeout_at(deadline, response)
                .await
                .map_err(|_| {
                    tonic::Status::deadline_exceeded(format!(
                        "call did not complete within {} ms",
                        timeout.as_millis()
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_calls::{grpc_status, request};
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

        let slow = svc.clone().oneshot(request("/a.B/Slow")).await.unwrap();
        assert_eq!(grpc_status(&slow), Some("4"), "DEADLINE_EXCEEDED");
        let fast = svc.oneshot(request("/a.B/Fast")).await.unwrap();
        assert_eq!(fast.body(), "done");
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit_and_bad_ones_are_ignored() {
        let parse = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", value.parse().unwrap());
            crate::retry::grpc_timeout(&headers)
        };
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_earlier_deadline_wins_and_reaches_the_handler() {
        let inner = tower::service_fn(|_: http::Request<()>| async move {
            let left = crate::retry::inbound_deadline()
                .map(|d| d - tokio::time::Instant::now())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(left.as_millis().to_string()))
        });
        let svc = DeadlineLayer::new(Duration::from_secs(1)).layer(inner);
        let call = |timeout: &str| {
            http::Request::builder()
                .uri("/a.B/C")
                .header("grpc-timeout", timeout)
                .body(())
                .unwrap()
        };
        let short = svc.clone().oneshot(call("200m")).await.unwrap();
        assert_eq!(short.body(), "200");
        let long = svc.oneshot(call("30S")).await.unwrap();
        assert_eq!(
            long.body(),
            "1000",
            "the server's own timeout caps the caller's"
        );
    }
}
