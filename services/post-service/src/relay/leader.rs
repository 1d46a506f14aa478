//! The relay leader lease: of the post-service replicas on one database, only the one holding
//! the `relay_leases` row relays the outbox (and prunes the retained window), so all of one
//! author's events go out on one stream, in id order, and apply in order.
//!
//! The lease lasts `FEEDLINE_RELAY_LEADER_TTL_MS` unrenewed and is renewed every third of it.
//! A leader that has not renewed within three quarters of it stops relaying, before any standby
//! may take the lease over, so two replicas never relay at once (the last quarter covers clock
//! skew between replicas and a session's stop). Standbys try to take it every fifth of it; a
//! clean shutdown releases it, so a standby takes over at once.
//!
//! Each lease call has a deadline of half the TTL ([`call_timeout`]), a renewal at most until
//! the lease may no longer be relied on: a call stuck on a lock or a frozen connection fails
//! like any failed call, so a leader never relays past its lease, and a standby or a stopping
//! replica is never stuck behind one.

use std::time::Duration;

use feedline_service_kit::CancellationToken;
use tokio::time::Instant;

use super::RelayConfig;
use super::deadline::sql_within;
use crate::ids::now_ms;
use crate::store::Store;

/// Relays (`super::lead`) whenever this replica holds the relay lease, until it stops holding
/// it (or `shutdown`); stands by in between. Returns at `shutdown`, releasing the lease once
/// the relay stopped.
pub(super) async fn run(store: &Store, config: &RelayConfig, shutdown: &CancellationToken) {
    let ttl = config.leader_ttl;
    let holder = holder();
    loop {
        let Some(valid_until) = take(store, &holder, ttl, shutdown).await else {
            return;
        };
        tracing::info!(%holder, "relay leader: took the relay lease; relaying the outbox");
        let term = shutdown.child_token();
        let leading = async {
            super::lead(store, config, &term).await;
            term.cancel();
        };
        tokio::join!(leading, keep(store, &holder, ttl, valid_until, &term));
        if shutdown.is_cancelled() {
            match sql_within(call_timeout(ttl), store.release_relay_lease(&holder)).await {
                Ok(()) => tracing::info!(%holder, "relay leader: released the relay lease"),
                Err(error) => tracing::warn!(%error, "releasing the relay lease"),
            }
            return;
        }
        tracing::warn!(%holder, "relay leader: lost the relay lease; standing by");
    }
}

/// The deadline of one lease call: half the TTL, so a lease taken by a call that answers just
/// in time is still good for half of it.
fn call_timeout(ttl: Duration) -> Duration {
    ttl / 2
}

/// Until when a lease renewed at `renewed` may be relied on.
fn valid_until(renewed: Instant, ttl: Duration) -> Instant {
    renewed + ttl * 3 / 4
}

/// Tries to take the lease until it is taken (`Some`, with until when it may be relied on) or
/// `shutdown` (`None`).
async fn take(
    store: &Store,
    holder: &str,
    ttl: Duration,
    shutdown: &CancellationToken,
) -> Option<Instant> {
    let mut waiting_logged = false;
    loop {
        if shutdown.is_cancelled() {
            return None;
        }
        let started = Instant::now();
        let now = now_ms();
        let attempt = store.take_relay_lease(holder, now, now + ttl.as_millis() as i64);
        match sql_within(call_timeout(ttl), attempt).await {
            Ok(true) => return Some(valid_until(started, ttl)),
            Ok(false) if !waiting_logged => {
                tracing::info!("relay leader: another replica relays the outbox; standing by");
                waiting_logged = true;
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "taking the relay lease"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(ttl / 5) => {}
        }
    }
}

/// Renews the lease every third of `ttl` (a tenth after a failure) until `term` is cancelled;
/// cancels `term` when another replica took the lease or it could not be renewed in time.
async fn keep(
    store: &Store,
    holder: &str,
    ttl: Duration,
    mut valid: Instant,
    term: &CancellationToken,
) {
    let mut every = ttl / 3;
    loop {
        tokio::select! {
            _ = term.cancelled() => return,
            _ = tokio::time::sleep_until(valid) => {
                tracing::warn!("relay leader: could not renew the relay lease in time; stopping");
                term.cancel();
                return;
            }
            _ = tokio::time::sleep(every) => {}
        }
        let started = Instant::now();
        let now = now_ms();
        let renewal = store.take_relay_lease(holder, now, now + ttl.as_millis() as i64);
        // Never past `valid`: a renewal that times out there makes the next turn stop.
        let timeout = call_timeout(ttl).min(valid.saturating_duration_since(started));
        match sql_within(timeout, renewal).await {
            Ok(true) => {
                valid = valid_until(started, ttl);
                every = ttl / 3;
            }
            Ok(false) => {
                tracing::warn!("relay leader: another replica took the relay lease; stopping");
                term.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "renewing the relay lease");
                every = ttl / 10;
            }
        }
    }
}

/// A holder token unique to this process.
fn holder() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("pid{}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_stops_a_quarter_ttl_before_a_standby_may_take_over() {
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        assert_eq!(valid_until(now, ttl) + ttl / 4, now + ttl);
    }
}
