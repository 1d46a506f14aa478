//! Giving up on an event: it moves from `outbox` to `outbox_dead` with its last error, and a
//! warning and a counter say so. The author's later events then go on.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{GiveUp, Store};

/// Events given up on by this process (`feedline.relay.dead_letters`).
static DEAD_LETTERS: AtomicU64 = AtomicU64::new(0);

/// Events this process moved to `outbox_dead` so far.
pub fn dead_letters_total() -> u64 {
    DEAD_LETTERS.load(Ordering::Relaxed)
}

/// An event to give up on, and its author (ordering key) for the log.
#[derive(Debug)]
pub(super) struct Burial {
    /// The row, its attempts and its last error.
    pub letter: GiveUp,
    /// Its ordering key (a post's author, a follow's followee), when the payload names one.
    pub author: Option<i64>,
}

/// Moves `burials` to `outbox_dead` in one transaction, then logs and counts each.
pub(super) async fn bury(store: &Store, burials: Vec<Burial>) -> Result<(), String> {
    if burials.is_empty() {
        return Ok(());
    }
    let letters: Vec<GiveUp> = burials.iter().map(|b| b.letter.clone()).collect();
    super::deadline::sql(store.bury_outbox(&letters))
        .await
        .map_err(|e| format!("dead letter: {e}"))?;
    for Burial { letter, author } in burials {
        tracing::warn!(
            event_id = letter.id,
            author = author.unwrap_or(0),
            attempts = letter.attempts,
            error = %letter.error,
            "fan-out event given up on; moved to outbox_dead (the author's later events go on)"
        );
    }
    DEAD_LETTERS.fetch_add(letters.len() as u64, Ordering::Relaxed);
    dead_letter_counter().add(letters.len() as u64, &[]);
    Ok(())
}

/// `feedline.relay.dead_letters`, exported with the service's other metrics.
fn dead_letter_counter() -> &'static opentelemetry::metrics::Counter<u64> {
    static COUNTER: std::sync::OnceLock<opentelemetry::metrics::Counter<u64>> =
        std::sync::OnceLock::new();
    COUNTER.get_or_init(|| {
        opentelemetry::global::meter("post-service")
            .u64_counter("feedline.relay.dead_letters")
            .with_description("fan-out events given up on and moved to outbox_dead")
            .build()
    })
}
