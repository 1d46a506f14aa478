//! A replica's lease of its node id, kept alive in the background: acquired at start (waiting
//! for the clock to pass the node's high-water mark), renewed every third of its TTL with the
//! reservation raised before the generator may use it, revoked when a renewal finds another
//! holder or when renewals failed for a whole TTL, then acquired again.
//!
//! Every call to the database has a deadline of half the TTL ([`call_timeout`]), a renewal at
//! most until the lease lapses: a call stuck on a lock or a frozen connection fails like a
//! failed one, so the renewal task keeps its schedule (and gives the lease up in time) and a
//! release never holds a stopping replica.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::IdGenerator;
use super::lease::{self, LeaseError, LeaseSettings, Terms, Won};
use crate::retry::within;

/// Longest single sleep while waiting for the clock to pass a high-water mark: the clock is
/// read again after it, so a clock that jumps is noticed.
const CLOCK_POLL: Duration = Duration::from_millis(50);

/// The deadline of one lease call under `settings`: half its TTL.
fn call_timeout(settings: &LeaseSettings) -> Duration {
    settings.ttl / 2
}

/// `call` under `timeout`; past it, [`LeaseError::Unavailable`] (worth retrying).
async fn bounded<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, LeaseError>>,
) -> Result<T, LeaseError> {
    within(timeout, call)
        .await
        .map_err(|timed_out| LeaseError::Unavailable(format!("node lease: {timed_out}")))?
}

/// The node id this replica holds and what it reserved.
#[derive(Clone, Copy, Debug)]
struct Held {
    node_id: u16,
    limit_ms: i64,
}

/// What the renewal task and [`NodeLease::release`] share.
#[derive(Debug)]
struct Shared {
    db: DatabaseConnection,
    settings: LeaseSettings,
    holder: String,
    ids: Arc<IdGenerator>,
    held: Mutex<Option<Held>>,
}

/// A held node-id lease feeding an [`IdGenerator`]. Dropping it stops renewal (the lease then
/// expires after its TTL); [`NodeLease::release`] gives it up at once.
#[derive(Debug)]
pub struct NodeLease {
    shared: Arc<Shared>,
    /// Cancelled by `release` or on drop: the renewal task ends at its next wait.
    stop: CancellationToken,
    /// The renewal task; awaited by `release` so that no renewal races the release.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl NodeLease {
    /// Leases a node id from the database at `url` (its own connection, so a busy pool never
    /// delays a renewal) and grants it to `ids`. The `node_leases` table must exist (each
    /// service's migrations create it). A [`LeaseError::Fatal`] should fail the start.
    pub async fn start(
        url: &str,
        settings: &LeaseSettings,
        ids: Arc<IdGenerator>,
    ) -> Result<Self, LeaseError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(1)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        let shared = Arc::new(Shared {
            db,
            settings: settings.clone(),
            holder: lease::new_holder(),
            ids,
            held: Mutex::new(None),
        });
        if let Err(error) = shared.acquire().await {
            let _ = shared.db.close_by_ref().await;
            return Err(error);
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(renew_until(shared.clone(), stop.clone()));
        Ok(Self {
            shared,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// The node id held now, if any.
    pub fn node_id(&self) -> Option<u16> {
        self.shared.held().map(|h| h.node_id)
    }

    /// The holder token written in `node_leases.holder`.
    pub fn holder(&self) -> &str {
        &self.shared.holder
    }

    /// Stops issuing ids, ends renewal and frees the node id at once for the next replica
    /// (with the mark lowered to the last millisecond used). Failing to write that only leaves
    /// the lease to expire.
    pub async fn release(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let last_ms = self.shared.ids.revoke();
        let held = self
            .shared
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(held) = held {
            let shared = &self.shared;
            let release = async {
                Ok(lease::release(&shared.db, held.node_id, &shared.holder, last_ms).await?)
            };
            match bounded(call_timeout(&shared.settings), release).await {
                Ok(_) => tracing::info!(node_id = held.node_id, "node id released"),
                Err(error) => tracing::warn!(%error, "releasing the node id; it will expire"),
            }
        }
        let _ = self.shared.db.close_by_ref().await;
    }
}

impl Drop for NodeLease {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Shared {
    fn held(&self) -> Option<Held> {
        *self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_held(&self, held: Option<Held>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = held;
    }

    /// Acquires a node id, waits for the clock to reach its start, and grants it.
    async fn acquire(&self) -> Result<(), LeaseError> {
        let clock = self.ids.clock().clone();
        let acquire = lease::acquire(&self.db, &self.settings, &self.holder, clock.as_ref());
        let won: Won = bounded(call_timeout(&self.settings), acquire).await?;
        // Bounded by FEEDLINE_NODE_CLOCK_WAIT_MS, which acquire checked.
        let deadline = Instant::now() + self.settings.max_clock_wait + CLOCK_POLL;
        loop {
            let behind = won.start_ms - clock.now_ms();
            if behind <= 0 {
                break;
            }
            if Instant::now() >= deadline {
                // The clock went further back while waiting: give the node id back unused.
                let release = async {
                    Ok(
                        lease::release(&self.db, won.node_id, &self.holder, won.start_ms - 1)
                            .await?,
                    )
                };
                let _ = bounded(call_timeout(&self.settings), release).await;
                return Err(LeaseError::Fatal(format!(
                    "the clock stays {behind} ms behind node id {}'s high-water mark",
                    won.node_id
                )));
            }
            let nap = Duration::from_millis(behind as u64).min(CLOCK_POLL);
            tokio::time::sleep(nap).await;
        }
        self.ids.grant(won.node_id, won.start_ms, won.limit_ms);
        self.set_held(Some(Held {
            node_id: won.node_id,
            limit_ms: won.limit_ms,
        }));
        tracing::info!(
            node_id = won.node_id,
            reserved_until_ms = won.limit_ms,
            "node id leased"
        );
        Ok(())
    }

    /// Renews the lease once. `Ok(false)`: another replica holds it now.
    async fn renew(&self, held: Held) -> Result<bool, LeaseError> {
        let now = self.ids.clock().now_ms();
        let ttl = self.settings.ttl_ms();
        let limit_ms = held.limit_ms.max(now.max(self.ids.last_ms()) + ttl);
        let terms = Terms {
            expires_at_ms: now + ttl,
            high_water_ms: limit_ms,
        };
        let renewed = lease::renew(&self.db, held.node_id, &self.holder, terms)
            .await
            .map_err(|e| {
                if lease::unreachable(&e) {
                    LeaseError::Unavailable(format!("database unreachable: {e}"))
                } else {
                    LeaseError::from(e)
                }
            })?;
        if renewed {
            // Persisted: ids up to the new mark may be issued now.
            self.ids.extend(held.node_id, limit_ms);
            self.set_held(Some(Held {
                node_id: held.node_id,
                limit_ms,
            }));
        }
        Ok(renewed)
    }

    /// Stops issuing ids: the lease is gone.
    fn lose(&self, node_id: u16, why: &str) {
        self.ids.revoke();
        self.set_held(None);
        tracing::error!(
            node_id,
            why,
            "node id lease lost; no ids until one is leased again"
        );
    }
}

/// Renews every TTL/3 until `stop`; after a loss, tries to lease a node id at each tick.
async fn renew_until(shared: Arc<Shared>, stop: CancellationToken) {
    let period = shared.settings.ttl / 3;
    // Until when the last successful renewal (or the acquisition) keeps the lease ours.
    let mut valid_until = Instant::now() + shared.settings.ttl;
    let mut warned = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let Some(held) = shared.held() else {
            match shared.acquire().await {
                Ok(()) => valid_until = Instant::now() + shared.settings.ttl,
                Err(error) => tracing::warn!(%error, "leasing a node id again"),
            }
            continue;
        };
        let attempt = Instant::now();
        // Never past `valid_until`: a renewal still unanswered then loses the lease.
        let timeout =
            call_timeout(&shared.settings).min(valid_until.saturating_duration_since(attempt));
        match bounded(timeout, shared.renew(held)).await {
            Ok(true) => {
                valid_until = attempt + shared.settings.ttl;
                warned = false;
            }
            Ok(false) => shared.lose(held.node_id, "another replica holds it"),
            Err(error) => {
                if !warned {
                    tracing::warn!(%error, node_id = held.node_id, "renewing the node id lease");
                    warned = true;
                }
                if Instant::now() >= valid_until {
                    shared.lose(held.node_id, "renewals failed for a whole TTL");
                }
            }
        }
    }
}
