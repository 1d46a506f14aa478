//! What the handlers share: the store, once the database has been reached.

use tokio::sync::OnceCell;

use feedline_service_kit::auth::Caller;

use crate::acting::Subjects;
use crate::admission::Admission;
use crate::error::{Error, Result};
use crate::rate_limit::{Quota, RateLimiter};
use crate::store::Store;

/// Shared by every handler. The store is set once the database is reachable and migrated;
/// until then calls answer UNAVAILABLE (and health says NOT_SERVING), so the process can start
/// before its database does, as containers often must.
#[derive(Debug)]
pub struct AppState {
    store: OnceCell<Store>,
    admission: Admission,
    limiter: RateLimiter,
    subjects: Subjects,
}

impl AppState {
    /// No store yet; writes that enqueue fan-out pass `admission`, posts and follows also
    /// `limiter`.
    pub fn new(admission: Admission, limiter: RateLimiter) -> Self {
        Self {
            store: OnceCell::new(),
            admission,
            limiter,
            subjects: Subjects::default(),
        }
    }

    /// The store for a write that enqueues fan-out: UNAVAILABLE while the database has not
    /// been reached, RESOURCE_EXHAUSTED while the fan-out backlog is past its bound.
    pub fn admit(&self) -> Result<&Store> {
        let store = self.store()?;
        self.admission.check()?;
        Ok(store)
    }

    /// The store for a write of `quota` that `caller` makes as `user_id` (whom it was found to
    /// act as): as [`Self::admit`], then RESOURCE_EXHAUSTED while that user is past its rate
    /// limit. A write admission refuses is not counted against the user.
    pub async fn admit_within(
        &self,
        quota: Quota,
        caller: &Caller,
        user_id: i64,
    ) -> Result<&Store> {
        let store = self.admit()?;
        self.limiter.check(caller, user_id, quota).await?;
        Ok(store)
    }

    /// Ok when `caller` may act as `user_id` (see [`crate::acting`]).
    pub async fn acting_as(&self, caller: &Caller, user_id: i64) -> Result<()> {
        self.subjects.check(self.store()?, caller, user_id).await
    }

    /// The user bound to `caller`'s subject.
    pub async fn own_user(&self, caller: &Caller) -> Result<i64> {
        let unbound = || {
            Error::NotFound("no user is bound to this token's subject: CreateUser binds one".into())
        };
        if caller.subject.is_empty() {
            return Err(unbound());
        }
        self.subjects
            .user_of(self.store()?, &caller.subject)
            .await?
            .ok_or_else(unbound)
    }

    /// Admission control, whose watcher runs beside the relay.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The per-user rate limits, whose connection `run` opens and closes.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The store, or UNAVAILABLE while the database has not been reached yet.
    pub fn store(&self) -> Result<&Store> {
        self.store
            .get()
            .ok_or_else(|| Error::Unavailable("database not connected yet".into()))
    }

    /// Installs the store (once; later calls are ignored).
    pub fn set_store(&self, store: Store) {
        let _ = self.store.set(store);
    }
}
