//! The deadline of an outgoing call, derived from the inbound call's: set for a handler's task
//! by the deadline layer, read by every outgoing gRPC, Redis or SQL call made while serving it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// What an outgoing call leaves of the inbound deadline, to carry the answer back.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(20);
/// The shortest outgoing timeout: an inbound deadline already (nearly) spent still gives a
/// positive timeout, so the call fails fast with DEADLINE_EXCEEDED instead of meaning "none".
pub(super) const MIN_OUTGOING: Duration = Duration::from_millis(1);

tokio::task_local! {
    /// The deadline of the inbound call this task serves; set by [`crate::layers::DeadlineLayer`].
    static INBOUND_DEADLINE: Instant;
}

/// The deadline of the inbound call the current task serves, if any.
pub fn inbound_deadline() -> Option<Instant> {
    INBOUND_DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The timeout for one outgoing call: `default`, shortened to what is left of the inbound
/// deadline less [`DEADLINE_MARGIN`] (at least 1 ms).
pub fn outgoing_timeout(default: Duration) -> Duration {
    match inbound_deadline() {
        None => default,
        Some(deadline) => deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(DEADLINE_MARGIN)
            .clamp(MIN_OUTGOING, default.max(MIN_OUTGOING)),
    }
}

/// An outgoing call given up on: no answer within its timeout ([`within`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no answer within {} ms", .0.as_millis())]
pub struct TimedOut(pub Duration);

/// Runs one outgoing call that has no timeout of its own (a SQL statement, a transaction)
/// under [`outgoing_timeout`]`(default)`: its output, or [`TimedOut`] once that has passed. The
/// call's future is then dropped, as a failed call's would end: the caller takes its usual
/// error path (a transaction dropped uncommitted rolls back).
pub async fn within<F: Future>(default: Duration, call: F) -> Result<F::Output, TimedOut> {
    let timeout = outgoing_timeout(default);
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| TimedOut(timeout))
}

/// An outgoing gRPC request carrying `message`, its `grpc-timeout` set to
/// [`outgoing_timeout`]`(default)`: the callee stops working on it when the caller would stop
/// waiting.
pub fn outgoing_request<T>(message: T, default: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(outgoing_timeout(default));
    request
}

/// Whether a failed gRPC call is worth retrying: UNAVAILABLE only (the call was not taken, or
/// the peer is going away). DEADLINE_EXCEEDED means the time is spent; RESOURCE_EXHAUSTED asks
/// for less load, not more; anything else will fail the same way again.
pub fn is_retryable_status(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable
}

/// A call's `grpc-timeout` (gRPC over HTTP/2: at most 8 digits and a unit), if valid.
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Runs `future` as serving an inbound call due at `deadline`: [`outgoing_timeout`] and
/// [`super::RetryPolicy::run`] inside it see that deadline.
pub async fn with_deadline<F: Future>(deadline: Instant, future: F) -> F::Output {
    INBOUND_DEADLINE.scope(deadline, future).await
}
