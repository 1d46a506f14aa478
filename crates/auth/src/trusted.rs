//! The keys a verifier trusts right now: a fixed set, or the last good fetch of a JWKS URL,
//! kept fresh by a task and fetched again (rate-limited) when a token names a key it lacks.
//!
//! Readers take the current set with one lock-free `ArcSwap` load; a fetch swaps in a new set
//! only when the document changed, and gives it a new generation, so the verifier's cache can
//! tell tokens verified under older keys.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::jwks_url::{FetchError, JwksUrl, fetch};
use crate::keys::{KeyError, KeySet};

/// After a failed periodic refresh, the next try comes this soon (or at the refresh interval,
/// when that is shorter).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// The first pause between start attempts; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// One key set, as read or fetched.
pub(crate) struct Current {
    pub(crate) keys: KeySet,
    /// Changes whenever the keys do; cached verdicts of another generation are not used.
    pub(crate) generation: u64,
    /// The document as fetched, to tell a changed set from the same one fetched again.
    document: Vec<u8>,
}

/// The keys in force, and how to fetch them again when they come from a URL.
pub(crate) struct TrustedKeys {
    current: ArcSwap<Current>,
    remote: Option<Remote>,
}

struct Remote {
    source: JwksUrl,
    client: reqwest::Client,
    /// Held for the length of a fetch: tokens naming the same new key wait for one fetch
    /// instead of each starting its own. Never taken on the verification path.
    fetching: tokio::sync::Mutex<()>,
    /// When a token with an unknown `kid` last caused a fetch. Held only to read or set it.
    last_unknown_kid_fetch: Mutex<Option<Instant>>,
}

impl Remote {
    /// Whether an unknown `kid` may cause a fetch now; `claim` records that one does.
    fn unknown_kid_fetch_allowed(&self, claim: bool) -> bool {
        let mut last = self
            .last_unknown_kid_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let allowed = last.is_none_or(|at| at.elapsed() >= self.source.unknown_kid_interval);
        if allowed && claim {
            *last = Some(Instant::now());
        }
        allowed
    }
}

impl TrustedKeys {
    /// Keys that never change.
    pub(crate) fn fixed(keys: KeySet) -> Self {
        Self {
            current: ArcSwap::from_pointee(Current {
                keys,
                generation: 0,
                document: Vec::new(),
            }),
            remote: None,
        }
    }

    /// The keys at `source`, fetched now: a failed fetch is retried with backoff for about
    /// `source.startup`, then the start fails, so a service never serves without keys.
    pub(crate) async fn fetch_first(
        source: JwksUrl,
        shutdown: &CancellationToken,
    ) -> Result<Self, KeyError> {
        let url = source.url.to_string();
        if source.is_insecure() {
            tracing::warn!(
                %url,
                "the JWKS is fetched over plain http: anyone on the path can swap the keys; use https"
            );
        }
        let failed = |attempts, source| KeyError::Fetch {
            url: url.clone(),
            attempts,
            source,
        };
        let client = source.client().map_err(|e| failed(0, e))?;
        let deadline = Instant::now() + source.startup;
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = tokio::select! {
                outcome = fetch(&client, &source) => outcome,
                () = shutdown.cancelled() => Err(FetchError::Stopped),
            };
            let error = match outcome {
                Ok((document, keys)) => {
                    tracing::info!(%url, ?keys, "fetched the JWKS");
                    return Ok(Self {
                        current: ArcSwap::from_pointee(Current {
                            keys,
                            generation: 0,
                            document,
                        }),
                        remote: Some(Remote {
                            source,
                            client,
                            fetching: tokio::sync::Mutex::new(()),
                            last_unknown_kid_fetch: Mutex::new(None),
                        }),
                    });
                }
                Err(FetchError::Stopped) => return Err(failed(attempts, FetchError::Stopped)),
                Err(error) if Instant::now() + backoff >= deadline => {
                    return Err(failed(attempts, error));
                }
                Err(error) => error,
            };
            tracing::warn!(%url, %error, attempts, "cannot fetch the JWKS yet: retrying");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return Err(failed(attempts, FetchError::Stopped)),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The keys in force: one lock-free load.
    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<Current>> {
        self.current.load()
    }

    /// Whether a token naming an unknown key may cause a fetch now (never for fixed keys).
    pub(crate) fn may_fetch_for_unknown_kid(&self) -> bool {
        self.remote
            .as_ref()
            .is_some_and(|remote| remote.unknown_kid_fetch_allowed(false))
    }

    /// Fetches the keys because a token names one not in the set, unless such a fetch ran
    /// within `unknown_kid_interval` (perhaps while this call waited for it). The caller
    /// verifies again with whatever keys are in force afterwards.
    pub(crate) async fn fetch_for_unknown_kid(&self) {
        let Some(remote) = &self.remote else {
            return;
        };
        let _fetching = remote.fetching.lock().await;
        if remote.unknown_kid_fetch_allowed(true) {
            let _ = self.refresh_locked(remote).await;
        }
    }

    /// Fetches the keys now; true when they changed. On failure the keys in force stay.
    pub(crate) async fn refresh(&self) -> Result<bool, FetchError> {
        let Some(remote) = &self.remote else {
            return Ok(false);
        };
        let _fetching = remote.fetching.lock().await;
        self.refresh_locked(remote).await
    }

    async fn refresh_locked(&self, remote: &Remote) -> Result<bool, FetchError> {
        let url = remote.source.url.as_str();
        let (document, keys) = fetch(&remote.client, &remote.source).await.inspect_err(
            |error| {
                tracing::warn!(url, %error, "cannot refresh the JWKS: keeping the last good keys");
            },
        )?;
        let old = self.current.load();
        if old.document == document {
            return Ok(false);
        }
        tracing::info!(url, ?keys, "the JWKS changed: verifying with the new keys");
        self.current.store(Arc::new(Current {
            keys,
            generation: old.generation + 1,
            document,
        }));
        Ok(true)
    }

    /// Fetches the keys every `refresh` (sooner again after a failure) until `shutdown` is
    /// cancelled or the keys are dropped. Nothing happens for fixed keys.
    pub(crate) fn keep_fresh(keys: &Arc<Self>, shutdown: CancellationToken) {
        let Some(remote) = &keys.remote else {
            return;
        };
        let refresh = remote.source.refresh;
        // Weak: the task must not keep a dropped verifier's keys, nor itself, alive.
        let keys = Arc::downgrade(keys);
        tokio::spawn(async move {
            let mut wait = refresh;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.cancelled() => return,
                }
                let Some(keys) = keys.upgrade() else {
                    return;
                };
                let outcome = tokio::select! {
                    outcome = keys.refresh() => outcome,
                    () = shutdown.cancelled() => return,
                };
                wait = match outcome {
                    Ok(_) => refresh,
                    Err(_) => refresh.min(RETRY_AFTER_FAILURE),
                };
            }
        });
    }
}
