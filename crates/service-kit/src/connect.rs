//! Waiting for a dependency (database, Redis Cluster) that may start after us.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Calls `connect` until it succeeds, backing off from 100 ms, doubling to at most 5 s.
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
    let mut backoff = Duration::from_millis(100);
    let mut logged = false;
    loop {
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
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A channel to `url` that connects on first use and reconnects by itself (3 s connect
/// timeout, no Nagle): for a dependency that may start after us or restart.
pub fn lazy_channel(url: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .connect_lazy())
}
