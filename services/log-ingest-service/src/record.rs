//! The records of the domain: a validated record on its way to the database, and a stored one.

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
