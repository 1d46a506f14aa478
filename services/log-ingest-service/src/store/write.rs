//! Bulk writes: one batch of records in one statement (PostgreSQL) or one transaction of
//! multi-row INSERTs (MySQL, SQLite), never one statement per record.
//!
//! Every write is idempotent twice over: a record's service-assigned id is its primary key, so
//! a batch retried after an unknown outcome stores nothing twice; and `(app_id,
//! client_record_id)` is unique, so a client's retry stores nothing twice either. The result
//! says, per record, whether it is stored by this call (`true`) or was a duplicate of a record
//! stored earlier (`false`), so the caller can answer `accepted` and `duplicates`.
//!
//! An id found stored already counts as this record only if the stored row holds this very
//! record (same app and fields): ids never repeat while node ids are leased, but should one
//! repeat, the batch fails instead of acknowledging a record that is not stored.

use std::collections::{HashMap, HashSet};

use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};

use super::Store;
use super::copy::Copied;
use super::rows::{CONTENT, decode_record, query_error};
use crate::error::{Error, Result};
use crate::record::NewRecord;

/// Rows per multi-row INSERT on MySQL and SQLite: 10 parameters a row stays under SQLite's
/// 32,766 and MySQL's 65,535 placeholders.
const ROWS_PER_STATEMENT: usize = 1000;

/// The PostgreSQL batch insert: ten arrays in, conflicts skipped.
const PG_INSERT: &str = "INSERT INTO log_records (id, app_id, time_unix_nano, level, service, \
    message, attributes, trace_id, client_record_id, receive_unix_nano) \
    SELECT u.*, $10 FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int2[], $5::text[], \
    $6::text[], $7::text[], $8::text[], $9::text[]) AS u \
    ON CONFLICT DO NOTHING";

const COLUMNS: &str = "id, app_id, time_unix_nano, level, service, message, attributes, \
                       trace_id, client_record_id, receive_unix_nano";

impl Store {
    /// Writes `records` in one transaction, received at `receive_unix_nano`. `retry` says an
    /// earlier attempt of this very batch may have committed: records whose id is already
    /// stored then count as stored by this call. Returns, per record, whether this call stored
    /// it (`false`: a duplicate of an earlier record with the same client_record_id).
    pub async fn write_records(
        &self,
        records: &[NewRecord],
        receive_unix_nano: i64,
        retry: bool,
    ) -> Result<Vec<bool>> {
        let ours: HashSet<i64> = if retry {
            stored_equal(&self.db, self.backend(), records.iter()).await?
        } else {
            HashSet::new()
        };
        let todo: Vec<&NewRecord> = records.iter().filter(|r| !ours.contains(&r.id)).collect();
        let inserted = match self.backend() {
            // A first attempt: COPY, unless it conflicts (then ON CONFLICT answers exactly).
            DbBackend::Postgres if !retry && self.copy_guard.try_copy() => {
                match self.copy_postgres(records, receive_unix_nano).await? {
                    Copied::All => return Ok(vec![true; records.len()]),
                    Copied::Conflict => self.insert_postgres(&todo, receive_unix_nano).await?,
                }
            }
            DbBackend::Postgres => self.insert_postgres(&todo, receive_unix_nano).await?,
            DbBackend::MySql => self.insert_mysql(&todo, receive_unix_nano).await?,
            _ => self.insert_sqlite(&todo, receive_unix_nano).await?,
        };
        let stored: Vec<bool> = records
            .iter()
            .map(|r| ours.contains(&r.id) || inserted.contains(&r.id))
            .collect();
        // Skipped without a client id to be a duplicate of: not stored at all.
        if let Some((lost, _)) = records
            .iter()
            .zip(&stored)
            .find(|(r, stored)| !**stored && r.client_record_id.is_none())
        {
            tracing::error!(id = lost.id, "a record was neither stored nor a duplicate");
            return Err(Error::Internal(format!(
                "record {} was not stored",
                lost.id
            )));
        }
        Ok(stored)
    }

    /// PostgreSQL: one INSERT of the whole batch from arrays (ten parameters however large the
    /// batch), skipping conflicts. Usually every row goes in, which the row count tells; only
    /// when some did not are the stored rows read back by id and compared with the batch's.
    /// RETURNING every id instead cost PostgreSQL, the bottleneck here, work on every batch.
    async fn insert_postgres(&self, records: &[&NewRecord], received: i64) -> Result<HashSet<i64>> {
        if records.is_empty() {
            return Ok(HashSet::new());
        }
        let pool = self.db.get_postgres_connection_pool();
        let done = sqlx::query(PG_INSERT)
            .bind(records.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(records.iter().map(|r| r.app_id).collect::<Vec<_>>())
            .bind(records.iter().map(|r| r.time_unix_nano).collect::<Vec<_>>())
            .bind(records.iter().map(|r| r.level).collect::<Vec<_>>())
            .bind(
                records
                    .iter()
                    .map(|r| r.service.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                records
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                records
                    .iter()
                    .map(|r| r.attributes.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                records
                    .iter()
                    .map(|r| r.trace_id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(
                records
                    .iter()
                    .map(|r| r.client_record_id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(received)
            .execute(pool)
            .await
            .map_err(query_error)?;
        if done.rows_affected() == records.len() as u64 {
            return Ok(records.iter().map(|r| r.id).collect());
        }
        stored_equal(&self.db, DbBackend::Postgres, records.iter().copied()).await
    }

    /// SQLite: multi-row INSERTs in one transaction, skipping conflicts, returning stored ids;
    /// a skipped row's id is then looked up and counts only if it holds this very record.
    async fn insert_sqlite(&self, records: &[&NewRecord], received: i64) -> Result<HashSet<i64>> {
        let txn = self.db.begin().await?;
        let mut inserted = HashSet::with_capacity(records.len());
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO log_records ({COLUMNS}) VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                placeholders(chunk.len())
            );
            let stmt =
                Statement::from_sql_and_values(DbBackend::Sqlite, sql, values(chunk, received));
            for row in txn.query_all_raw(stmt).await? {
                inserted.insert(row.try_get_by_index::<i64>(0)?);
            }
        }
        let skipped = records
            .iter()
            .copied()
            .filter(|r| !inserted.contains(&r.id));
        let same = stored_equal(&txn, DbBackend::Sqlite, skipped).await?;
        inserted.extend(same);
        txn.commit().await?;
        Ok(inserted)
    }

    /// MySQL has no INSERT ... RETURNING: the batch's client ids already stored are read first
    /// (inside the transaction), the rest inserted with conflicts ignored. Two batches racing
    /// on one client id store it once (the unique key makes the loser wait for the winner's
    /// commit, then skip its row). ON DUPLICATE KEY hides which rows it skipped, so every row is
    /// read back by its id and counts only if it holds this very record: the loser counts its
    /// row as a duplicate, not as accepted, and an id stored with other content fails the batch.
    async fn insert_mysql(&self, records: &[&NewRecord], received: i64) -> Result<HashSet<i64>> {
        let txn = self.db.begin().await?;
        let with_ids: Vec<&NewRecord> = records
            .iter()
            .copied()
            .filter(|r| r.client_record_id.is_some())
            .collect();
        let mut stored: HashSet<(i64, String)> = HashSet::new();
        for chunk in with_ids.chunks(ROWS_PER_STATEMENT) {
            let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT app_id, client_record_id FROM log_records \
                 WHERE (app_id, client_record_id) IN ({tuples})"
            );
            let mut params = Vec::with_capacity(chunk.len() * 2);
            for r in chunk {
                params.push(Value::BigInt(Some(r.app_id)));
                params.push(Value::String(r.client_record_id.clone()));
            }
            let stmt = Statement::from_sql_and_values(DbBackend::MySql, sql, params);
            for row in txn.query_all_raw(stmt).await? {
                stored.insert((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
            }
        }
        // A client id seen earlier in this batch is a duplicate too.
        let mut fresh = Vec::with_capacity(records.len());
        for r in records {
            match &r.client_record_id {
                Some(cid) => {
                    if stored.insert((r.app_id, cid.clone())) {
                        fresh.push(*r);
                    }
                }
                None => fresh.push(*r),
            }
        }
        for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO log_records ({COLUMNS}) VALUES {} ON DUPLICATE KEY UPDATE id = id",
                placeholders(chunk.len())
            );
            let stmt =
                Statement::from_sql_and_values(DbBackend::MySql, sql, values(chunk, received));
            txn.execute_raw(stmt).await?;
        }
        let inserted = stored_equal(&txn, DbBackend::MySql, fresh.iter().copied()).await?;
        txn.commit().await?;
        Ok(inserted)
    }
}

/// Which of `records` are stored with exactly their content, by id. An id stored with other
/// content is an error (logged): that record is not stored, and must not be acknowledged.
async fn stored_equal<'r, C: ConnectionTrait>(
    conn: &C,
    backend: DbBackend,
    records: impl Iterator<Item = &'r NewRecord>,
) -> Result<HashSet<i64>> {
    let wanted: HashMap<i64, &NewRecord> = records.map(|r| (r.id, r)).collect();
    let ids: Vec<i64> = wanted.keys().copied().collect();
    let mut same = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let marks: Vec<String> = (1..=chunk.len())
            .map(|i| match backend {
                DbBackend::Postgres => format!("${i}"),
                _ => "?".to_owned(),
            })
            .collect();
        let sql = format!(
            "SELECT {CONTENT} FROM log_records WHERE id IN ({})",
            marks.join(", ")
        );
        let params = chunk.iter().map(|id| Value::BigInt(Some(*id)));
        let stmt = Statement::from_sql_and_values(backend, sql, params);
        for row in conn.query_all_raw(stmt).await? {
            let stored = decode_record(&row)?;
            match wanted.get(&stored.id) {
                Some(record) if **record == stored => {
                    same.insert(stored.id);
                }
                Some(record) => {
                    tracing::error!(
                        id = stored.id,
                        app_id = record.app_id,
                        stored_app_id = stored.app_id,
                        "record id already stored with other content; not acknowledged"
                    );
                    return Err(Error::Internal(format!(
                        "record id {} is already stored with other content",
                        stored.id
                    )));
                }
                None => {}
            }
        }
    }
    Ok(same)
}

/// `(?, ..., ?), ...` for `rows` rows of ten columns.
fn placeholders(rows: usize) -> String {
    vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ")
}

/// The parameters of `placeholders(records.len())`, row by row.
fn values(records: &[&NewRecord], received: i64) -> Vec<Value> {
    let mut v = Vec::with_capacity(records.len() * 10);
    for r in records {
        v.extend([
            Value::BigInt(Some(r.id)),
            Value::BigInt(Some(r.app_id)),
            Value::BigInt(Some(r.time_unix_nano)),
            Value::SmallInt(Some(r.level)),
            Value::String(Some(r.service.clone())),
            Value::String(Some(r.message.clone())),
            Value::String(Some(r.attributes.clone())),
            Value::String(r.trace_id.clone()),
            Value::String(r.client_record_id.clone()),
            Value::BigInt(Some(received)),
        ]);
    }
    v
}
