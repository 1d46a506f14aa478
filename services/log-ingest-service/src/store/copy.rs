//! PostgreSQL's COPY for a batch's first attempt, optimistic about conflicts: COPY cannot skip
//! a row whose `(app_id, client_record_id)` is stored already, so on a unique violation the
//! whole COPY rolls back and the caller redoes the batch with `INSERT ... ON CONFLICT DO
//! NOTHING`, which answers exactly which records were duplicates.
//!
//! Conflicts are rare (a client's retry, or one client id twice in a call), and COPY costs
//! PostgreSQL, the bottleneck, clearly less than the speculative insertion of ON CONFLICT; a
//! [`CopyGuard`] keeps a burst of retries from paying for both on batch after batch.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sea_orm::sqlx;

use super::Store;
use super::rows::query_error;
use crate::error::Result;
use crate::record::NewRecord;

/// Batches written with ON CONFLICT after a COPY hit a conflict, before COPY is tried again:
/// clients retry in bursts (after a restart or a timeout), and one failed COPY of a full batch
/// costs about as much as the write itself.
const COOLDOWN_BATCHES: u32 = 16;

const COPY_SQL: &str = "COPY log_records (id, app_id, time_unix_nano, level, service, message, \
                        attributes, trace_id, client_record_id, receive_unix_nano) FROM STDIN";

/// Whether first attempts may take COPY now; shared by every writer of one store.
#[derive(Debug, Default)]
pub(super) struct CopyGuard {
    /// Batches left to write with ON CONFLICT before COPY is tried again.
    cooldown: AtomicU32,
    /// COPYs that hit a unique violation, since start.
    conflicts: AtomicU64,
}

impl CopyGuard {
    /// Whether this batch should try COPY; while cooling down, counts one batch off instead.
    pub(super) fn try_copy(&self) -> bool {
        self.cooldown
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
    }

    /// A COPY hit a conflict: the next batches go through ON CONFLICT.
    fn conflicted(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
        self.cooldown.store(COOLDOWN_BATCHES, Ordering::Relaxed);
    }
}

/// What a COPY did.
pub(super) enum Copied {
    /// Every record is stored, in one transaction.
    All,
    /// A unique violation: nothing is stored, the batch needs the ON CONFLICT path.
    Conflict,
}

impl Store {
    /// COPYs `records` in one statement (so one transaction). A unique violation is
    /// [`Copied::Conflict`], not an error: every other failure (the database unreachable, the
    /// connection lost) is returned as before, classified retryable or not.
    pub(super) async fn copy_postgres(
        &self,
        records: &[NewRecord],
        received: i64,
    ) -> Result<Copied> {
        if records.is_empty() {
            return Ok(Copied::All);
        }
        let mut data = Vec::with_capacity(records.iter().map(|r| r.weight()).sum::<usize>());
        for r in records {
            copy_row(&mut data, r, received);
        }
        let pool = self.db.get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(query_error)?;
        let mut copy = conn.copy_in_raw(COPY_SQL).await.map_err(query_error)?;
        if let Err(e) = copy.send(data).await {
            // Abort so the connection goes back to the pool usable.
            let _ = copy.abort("send failed").await;
            return Err(query_error(e));
        }
        match copy.finish().await {
            Ok(_) => Ok(Copied::All),
            Err(e) if is_unique_violation(&e) => {
                self.copy_guard.conflicted();
                tracing::debug!(error = %e, "COPY hit a stored client id; redoing with ON CONFLICT");
                Ok(Copied::Conflict)
            }
            Err(e) => Err(query_error(e)),
        }
    }

    /// COPYs of a first attempt that hit a unique violation and were redone with ON CONFLICT,
    /// since the store was opened: how often the optimism did not pay.
    pub fn copy_conflicts(&self) -> u64 {
        self.copy_guard.conflicts.load(Ordering::Relaxed)
    }
}

/// SQLSTATE 23505. Ids are fresh on a first attempt, so in practice the violated index is
/// `(app_id, client_record_id)`; were it the primary key, ON CONFLICT would sort that out too.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Appends `r` as one line of COPY's text format: tab-separated, `\N` for NULL.
fn copy_row(out: &mut Vec<u8>, r: &NewRecord, received: i64) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{}\t{}\t{}\t{}\t",
        r.id, r.app_id, r.time_unix_nano, r.level
    );
    copy_text(out, Some(&r.service));
    out.push(b'\t');
    copy_text(out, Some(&r.message));
    out.push(b'\t');
    copy_text(out, Some(&r.attributes));
    out.push(b'\t');
    copy_text(out, r.trace_id.as_deref());
    out.push(b'\t');
    copy_text(out, r.client_record_id.as_deref());
    let _ = writeln!(out, "\t{received}");
}

/// A text field in COPY's text format: backslash, tab, newline and carriage return escaped.
fn copy_text(out: &mut Vec<u8>, text: Option<&str>) {
    let Some(text) = text else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}
