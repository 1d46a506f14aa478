//! Waiting for a dependency (database, Redis Cluster) that may start after us, and the
//! channel our calls to the other services go out on.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Calls `connect` until it succeeds, backing off with [`crate::retry::Backoff`] (full jitter
/// under a ceiling from 100 ms, doubling to 5 s). No retry budget: this is a start or a
/// reconnect waiting for its dependency, one caller, not calls multiplied under load.
/// Logs the first failure only (a long outage is one line, not one per attempt). Returns
/// `None` when `shutdown` comes first, even in the middle of an attempt.
pub async fn connect_with_backoff<T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut connect: F,
) -> Option<T>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let backoff = crate::retry::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut logged = false;
    for retry in 0.. {
        let attempt = tokio::select! {
            // A connect to an unreachable host can take its full timeout: do not hold shutdown.
            _ = shutdown.cancelled() => return None,
            attempt = connect() => attempt,
        };
        match attempt {
            Ok(connected) => return Some(connected),
            Err(error) => {
                if !logged {
                    tracing::warn!(%error, "{what} not reachable yet; retrying");
                    logged = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(backoff.delay(retry)) => {}
                }
            }
        }
    }
    None
}

/// A channel to `url` that connects on first use and reconnects by itself (3 s connect
/// timeout, no Nagle): for a dependency that may start after us or restart. An `https://` URL
/// is dialled with TLS, trusting the public roots and `FEEDLINE_TLS_CA`.
pub fn lazy_channel(
    url: &str,
    tls: &crate::tls::TlsConfig,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true);
    Ok(tls.apply(endpoint)?.connect_lazy())
}

/// A channel to another feedline service whose every call carries the current trace context
/// and this service's credential: `FooClient::new(client_channel(channel, &credential))`.
pub type ClientChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Outbound>;

/// Wraps `channel` so that its calls carry the trace context and `credential`.
pub fn client_channel(
    channel: tonic::transport::Channel,
    credential: &feedline_auth::Credential,
) -> ClientChannel {
    tonic::service::interceptor::InterceptedService::new(
        channel,
        Outbound {
            credential: credential.clone(),
        },
    )
}

/// What [`client_channel`] adds to each call.
#[derive(Clone, Debug)]
pub struct Outbound {
    credential: feedline_auth::Credential,
}

impl tonic::service::Interceptor for Outbound {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = feedline_telemetry::inject_trace_context(request)?;
        self.credential.apply(&mut request);
        Ok(request)
    }
}
