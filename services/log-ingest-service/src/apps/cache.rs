//! What each app key was found to be, remembered for a short TTL: a steady sender costs one
//! database lookup per key per TTL on each replica, and a key revoked through any replica is
//! refused by every other one once its entry expires.
//!
//! A lookup has a deadline ([`LOOKUP_TIMEOUT`], shortened to the inbound call's): a long
//! IngestStream rechecks its key per batch with no deadline of its own, and a lookup stuck on
//! the database must fail (UNAVAILABLE) rather than hold the stream and every caller of that
//! key waiting on it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::store::AppKey;

/// How long one key lookup may take when the call has no sooner deadline.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Distinct keys remembered at most; beyond, the least used are forgotten (and looked up again).
const CACHED_KEYS: usize = 65_536;

/// What the database said of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyStatus {
    /// Valid, for this app.
    Valid(i64),
    /// Revoked: refused.
    Revoked,
}

#[derive(Clone, Debug)]
struct Entry {
    status: KeyStatus,
    checked: Instant,
}

/// Key hash → its app (or its revocation), each entry trusted for `ttl` after its lookup.
/// Unknown keys are not remembered: anyone can send those, and they would fill the cache.
#[derive(Debug)]
pub struct KeyCache {
    entries: quick_cache::sync::Cache<String, Entry>,
    ttl: Duration,
}

impl KeyCache {
    /// A cache whose entries are looked up again after `ttl` (zero: on every call).
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CACHED_KEYS),
            ttl,
        }
    }

    /// The app of the key hashing to `hash`: remembered while its entry is younger than the
    /// TTL, else `lookup` (one lookup for every concurrent caller of the same key).
    /// UNAUTHENTICATED for an unknown or revoked key; the message never holds the key.
    pub async fn app_of<F, Fut>(&self, hash: &str, lookup: F) -> Result<i64>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<AppKey>>>,
    {
        let fresh = |entry: &Entry| entry.checked.elapsed() < self.ttl;
        let entry = match self.entries.get(hash) {
            Some(entry) if fresh(&entry) => entry,
            stale => {
                if stale.is_some() {
                    // Only if still stale: a concurrent caller may have refreshed it already.
                    self.entries.remove_if(hash, |entry| !fresh(entry));
                }
                let load = async {
                    let found = feedline_service_kit::retry::within(LOOKUP_TIMEOUT, lookup())
                        .await
                        .map_err(|timed_out| {
                            Error::Unavailable(format!("app key lookup: {timed_out}"))
                        })??;
                    let status = match found {
                        None => return Err(Error::Unauthenticated("unknown app key".into())),
                        Some(key) if key.revoke_unix_nano.is_some() => KeyStatus::Revoked,
                        Some(key) => KeyStatus::Valid(key.app_id),
                    };
                    Ok(Entry {
                        status,
                        checked: Instant::now(),
                    })
                };
                self.entries.get_or_insert_async(hash, load).await?
            }
        };
        match entry.status {
            KeyStatus::Valid(app_id) => Ok(app_id),
            KeyStatus::Revoked => Err(Error::Unauthenticated("app key revoked".into())),
        }
    }

    /// Refuses the key hashing to `hash` on this replica at once (RevokeAppKey went through
    /// it); the others learn it within the TTL.
    pub fn revoked(&self, hash: &str) {
        let entry = Entry {
            status: KeyStatus::Revoked,
            checked: Instant::now(),
        };
        self.entries.insert(hash.to_owned(), entry);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const TTL: Duration = Duration::from_secs(5);

    /// A database of one key, counting its lookups.
    struct Db {
        key: std::sync::Mutex<Option<AppKey>>,
        lookups: AtomicUsize,
    }

    impl Db {
        fn with(app_id: i64) -> Self {
            let key = AppKey {
                id: 1,
                app_id,
                create_unix_nano: 0,
                revoke_unix_nano: None,
            };
            Self {
                key: std::sync::Mutex::new(Some(key)),
                lookups: AtomicUsize::new(0),
            }
        }

        async fn lookup(&self) -> Result<Option<AppKey>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            // A database answers later, so concurrent callers really overlap.
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(self.key.lock().unwrap().clone())
        }

        fn revoke(&self) {
            if let Some(key) = self.key.lock().unwrap().as_mut() {
                key.revoke_unix_nano = Some(1);
            }
        }

        fn lookups(&self) -> usize {
            self.lookups.load(Ordering::SeqCst)
        }
    }

    fn message(result: Result<i64>) -> String {
        match result {
            Err(Error::Unauthenticated(message)) => message,
            other => panic!("want UNAUTHENTICATED, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_sender_costs_one_lookup_per_ttl() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        for _ in 0..100 {
            assert_eq!(cache.app_of("h", || db.lookup()).await.unwrap(), 7);
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        assert_eq!(db.lookups(), 1, "100 calls within 1.5 s");
        tokio::time::advance(TTL).await;
        assert_eq!(cache.app_of("h", || db.lookup()).await.unwrap(), 7);
        assert_eq!(db.lookups(), 2, "looked up again after the TTL");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_lookup() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        let calls = (0..20).map(|_| cache.app_of("h", || db.lookup()));
        let apps = futures::future::join_all(calls).await;
        assert!(apps.into_iter().all(|app| app.unwrap() == 7));
        assert_eq!(db.lookups(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_revocation_elsewhere_is_seen_once_the_entry_expires() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        assert!(cache.app_of("h", || db.lookup()).await.is_ok());
        db.revoke();
        assert!(
            cache.app_of("h", || db.lookup()).await.is_ok(),
            "still remembered"
        );
        tokio::time::advance(TTL).await;
        let refused = message(cache.app_of("h", || db.lookup()).await);
        assert_eq!(refused, "app key revoked");
    }

    #[tokio::test(start_paused = true)]
    async fn a_revocation_here_is_refused_at_once() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        assert!(cache.app_of("h", || db.lookup()).await.is_ok());
        cache.revoked("h");
        let refused = message(cache.app_of("h", || db.lookup()).await);
        assert_eq!(refused, "app key revoked");
        assert_eq!(db.lookups(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_keys_are_refused_and_not_remembered() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        *db.key.lock().unwrap() = None;
        for _ in 0..2 {
            assert_eq!(
                message(cache.app_of("h", || db.lookup()).await),
                "unknown app key"
            );
        }
        assert_eq!(db.lookups(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_lookup_fails_at_its_deadline_and_is_not_remembered() {
        let (cache, db) = (KeyCache::new(TTL), Db::with(7));
        let start = Instant::now();
        let stuck = cache.app_of("h", std::future::pending).await;
        assert!(
            matches!(&stuck, Err(Error::Unavailable(m)) if m.contains("no answer within")),
            "{stuck:?}"
        );
        assert_eq!(start.elapsed(), LOOKUP_TIMEOUT);
        assert_eq!(cache.app_of("h", || db.lookup()).await.unwrap(), 7);
        assert_eq!(db.lookups(), 1, "the failure was not cached");
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ttl_looks_up_every_call() {
        let (cache, db) = (KeyCache::new(Duration::ZERO), Db::with(7));
        for _ in 0..3 {
            assert!(cache.app_of("h", || db.lookup()).await.is_ok());
        }
        assert_eq!(db.lookups(), 3);
    }
}
