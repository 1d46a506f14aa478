//! The outbox relay: streams committed outbox rows to fanout-service over one long-lived
//! bidirectional `Fanout` stream and retires each row only once it is acknowledged as applied:
//! it is deleted, or kept in `outbox_applied` for the retention window.
//!
//! Delivery is at-least-once and ordered per author: rows go out in id order; a RETRY answer
//! holds only that event's author (its later events wait) while the event backs off, jittered,
//! and everyone else goes on. fanout-service applies events of one author in order, so an
//! unfollow is never overtaken by an older post of the same author.
//!
//! Replicas: only the holder of the relay leader lease (`leader`) relays, replays and prunes;
//! the other replicas stand by and take over when it expires or is released.
//!
//! Dead letters: an event fanout-service REJECTED, one that answered RETRY
//! `FEEDLINE_RELAY_MAX_ATTEMPTS` times, or one whose payload does not decode moves to
//! `outbox_dead` with its last error (a warning and a counter say so), and its author's later
//! events go on. An operator lists and requeues them (`ListDeadLetters`, `RequeueDeadLetters`).
//!
//! Encoded once: a row's payload goes out as the writer encoded it, with the row's id, commit
//! time and trace context appended (`events`); the relay reads it only to check it decodes.
//!
//! Deadlines: every SQL call of the relay has one (`deadline`); past it the call fails like
//! any other failure.
//!
//! Replay: when fanout-service asks on the stream (its Redis Cluster changed topology, or an
//! operator called `ReplayOutbox`), the relay stops claiming new rows, waits until everything in
//! flight is answered, re-sends the retained events in id order (marked `replay`), then goes
//! on with new rows. Re-applying a suffix of the history in order leaves every key as its last
//! event left it, so the timelines converge; new events never overtake replayed ones.

mod acks;
mod dead_letters;
pub mod deadline;
mod events;
mod holds;
mod leader;
pub mod prune;
mod replay;
mod send;
mod session;
mod wait;

use std::time::Duration;

use feedline_service_kit::{Backoff, CancellationToken};

pub use dead_letters::dead_letters_total;
use session::run_session;

use crate::store::Store;

/// How the relay sends.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// fanout-service addresses (`http://host:port`); sessions rotate through them.
    pub endpoints: Vec<String>,
    /// Most events per stream message.
    pub batch: usize,
    /// Most events in flight (sent, unanswered) at once: bounds memory on both sides.
    pub window: usize,
    /// How long a claim holds a row against other relays.
    pub lease: Duration,
    /// How often to look for rows when no commit signalled any (other replicas, expired leases,
    /// backoffs that ended).
    pub poll: Duration,
    /// What the Fanout stream presents: fanout-service takes events only from a service
    /// (`FEEDLINE_SERVICE_TOKEN`).
    pub credential: feedline_service_kit::auth::Credential,
    /// How an `https://` endpoint is dialled (`FEEDLINE_TLS_CA`).
    pub tls: feedline_service_kit::TlsConfig,
    /// `FEEDLINE_OUTBOX_RETENTION_MIN`: how long applied events are kept for a replay; zero
    /// deletes them on their ack.
    pub retention: Duration,
    /// `FEEDLINE_RELAY_MAX_ATTEMPTS`: failed attempts (RETRY answers) after which an event is
    /// given up on and moved to `outbox_dead`; a REJECTED event goes at once.
    pub max_attempts: u32,
    /// `FEEDLINE_RELAY_LEADER_TTL_MS`: how long the relay leader lease lasts unrenewed; only
    /// its holder relays (see `leader`).
    pub leader_ttl: Duration,
}

/// Runs the relay until `shutdown`: while this replica holds the relay leader lease, one
/// session at a time, reconnecting with capped backoff (through the next endpoint) when a
/// session fails, and prunes the retained window; otherwise it stands by. Never drops an event:
/// a row is retired only after fanout-service acknowledged it.
pub async fn run(store: &Store, config: RelayConfig, shutdown: CancellationToken) {
    if config.endpoints.is_empty() {
        return;
    }
    leader::run(store, &config, &shutdown).await;
}

/// What the leader does until `term`: relays and prunes.
async fn lead(store: &Store, config: &RelayConfig, term: &CancellationToken) {
    tokio::join!(
        sessions(store, config, term),
        prune::run(store, config.retention, term)
    );
}

async fn sessions(store: &Store, config: &RelayConfig, shutdown: &CancellationToken) {
    // Jittered, so replicas and relays reconnecting together do not come back together.
    const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut retry = 0u32;
    let mut failures = 0u64;
    // A replay asked for and not finished: it survives a broken stream.
    let mut replay = None;
    // Claims may be left over: at first (a previous leader's), and after a session that claimed.
    let mut stale_claims = true;
    for endpoint in config.endpoints.iter().cycle() {
        if shutdown.is_cancelled() {
            return;
        }
        // The only relay of this database (the leader), with nothing in flight between
        // sessions: every claim is stale. Left by a crashed or deposed leader (which stopped
        // before this one could take the lease), or by this one's last session, whose claim
        // may have committed after its deadline, or whose release failed. Their rows would
        // stay hidden until their lease expires while later rows of their authors went out
        // first, so no session starts before they are released.
        let released = if stale_claims {
            deadline::sql(store.release_all_claims()).await
        } else {
            Ok(())
        };
        // A session that ends sets `stale_claims` again below, whatever it claimed.
        let session = match released {
            Ok(()) => run_session(store, config, endpoint, shutdown, &mut replay).await,
            Err(error) => Err(session::SessionEnd {
                error: format!("releasing stale outbox claims: {error}"),
                made_progress: false,
                left_claims: true,
            }),
        };
        match session {
            Ok(()) => return,
            Err(session) => {
                stale_claims = session.left_claims;
                // Log the first failure of a streak and then every 50th: a fanout-service that is
                // down for an hour is one line a few minutes, not one per retry.
                if failures.is_multiple_of(50) {
                    tracing::warn!(%endpoint, error = %session.error, "outbox relay session ended; reconnecting");
                }
                failures += 1;
                if session.made_progress {
                    retry = 0;
                    failures = 0;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RECONNECT.delay(retry)) => {}
        }
        retry = retry.saturating_add(1);
    }
}
