//! What the store's statements share, below both the writes (`write.rs`, `copy.rs`) and the
//! queries (`query.rs`): the columns that make a record, a record decoded from a row, and an
//! error of a statement run through sqlx directly.

use std::sync::Arc;

use sea_orm::sqlx;
use sea_orm::{DbErr, QueryResult, RuntimeErr};

use crate::record::NewRecord;

/// The columns that make a record what it is, in `NewRecord`'s order.
pub(super) const CONTENT: &str = "id, app_id, time_unix_nano, level, service, message, attributes, \
                       trace_id, client_record_id";

/// A record from a row whose first columns are [`CONTENT`], in that order (`query.rs` reads
/// the same columns first).
pub(super) fn decode_record(row: &QueryResult) -> Result<NewRecord, DbErr> {
    Ok(NewRecord {
        id: row.try_get_by_index(0)?,
        app_id: row.try_get_by_index(1)?,
        time_unix_nano: row.try_get_by_index(2)?,
        level: row.try_get_by_index(3)?,
        service: row.try_get_by_index(4)?,
        message: row.try_get_by_index(5)?,
        attributes: row.try_get_by_index(6)?,
        trace_id: row.try_get_by_index(7)?,
        client_record_id: row.try_get_by_index(8)?,
    })
}

/// An error of a statement run through sqlx directly, classified like sea-orm's own.
pub(super) fn query_error(e: sqlx::Error) -> crate::error::Error {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))).into()
}
