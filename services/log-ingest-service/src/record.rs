//! The records of the domain: a validated record on its way to the database, a stored one,
//! and a validated query of stored ones.

use std::mem::size_of;

/// A validated record, ready to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    /// Time-ordered id, assigned when the record is admitted to the queue. It is the primary
    /// key, so a batch write retried after an unknown outcome cannot store a record twice.
    pub id: i64,
    /// The app that sent it (from its key).
    pub app_id: i64,
    /// When the event happened, in Unix nanoseconds.
    pub time_unix_nano: i64,
    /// `Severity` as its number, 1 (TRACE) to 6 (FATAL).
    pub level: i16,
    /// Emitting component; may be empty.
    pub service: String,
    /// The message.
    pub message: String,
    /// The attributes as a JSON object with sorted keys (`{}` when none).
    pub attributes: String,
    /// W3C trace id, 32 lowercase hex characters.
    pub trace_id: Option<String>,
    /// The client's id for de-duplication, unique per app.
    pub client_record_id: Option<String>,
}

impl NewRecord {
    /// What the record costs in memory while queued: the struct and its strings. The queue's
    /// byte budget counts this, so the budget bounds the process's memory, not the wire size.
    pub fn weight(&self) -> usize {
        size_of::<Self>()
            + self.service.len()
            + self.message.len()
            + self.attributes.len()
            + self.trace_id.as_ref().map_or(0, String::len)
            + self.client_record_id.as_ref().map_or(0, String::len)
    }
}

/// A record as stored, for queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record as written.
    pub record: NewRecord,
    /// When the service received it, in Unix nanoseconds.
    pub receive_unix_nano: i64,
}

/// What a write did with one call's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records stored by this call.
    pub accepted: u32,
    /// Records skipped because their client_record_id was already stored.
    pub duplicates: u32,
}

/// A validated QueryLogs request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Minimum level number, 0 for any.
    pub min_level: i16,
    /// Inclusive lower bound, Unix nanoseconds.
    pub start: Option<i64>,
    /// Exclusive upper bound, Unix nanoseconds.
    pub end: Option<i64>,
    /// Only this trace.
    pub trace_id: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Only messages containing this text.
    pub message_contains: Option<String>,
    /// Page size.
    pub page_size: u64,
}

impl LogQuery {
    /// The filters as bytes, so a page token is bound to them.
    pub fn scope(&self, app_id: i64) -> Vec<u8> {
        format!(
            "logs|{app_id}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.min_level,
            self.start,
            self.end,
            self.trace_id,
            self.service,
            self.message_contains
        )
        .into_bytes()
    }
}
