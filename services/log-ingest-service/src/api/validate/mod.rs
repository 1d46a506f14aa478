//! Checks of every request field, collecting all violations at once (`records[3].level`, ...):
//! the records of an Ingest call, a QueryLogs request, the app and key RPCs' fields.

mod apps;
mod fields;
mod query;
mod records;
#[cfg(test)]
mod tests;

pub use apps::{app_name, app_ref, key_id};
pub use fields::timestamp_nanos;
pub use query::query;
pub use records::{MAX_CALL_BYTES, MAX_RECORDS_PER_CALL, records};
