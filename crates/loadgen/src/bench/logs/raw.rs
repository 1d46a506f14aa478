//! The raw baselines: what PostgreSQL takes straight from a client, with no service in between,
//! into a fresh table with `log_records`' schema and indexes, the same records the service is
//! sent (`scenarios::logs::records`). They are the ceiling the service's rates are divided by.
//! Each writer connection is one closed-loop VU of loadgen's driver.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use sea_orm::sqlx::postgres::{PgConnection, Postgres};
use sea_orm::sqlx::{AssertSqlSafe, QueryBuilder};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::database::{BenchDatabase, checkpoint, create_log_table};
use crate::drive::{OpError, drive};
use crate::options::Load;
use crate::scenarios::logs::records::{
    ATTRIBUTES_JSON, SERVICE, client_record_id, level, message, now_unix_nano,
};
use crate::stats::{Recorder, Totals};

/// The columns of `log_records` in the order the baselines write them.
const COLUMNS: &str = "id, app_id, time_unix_nano, level, service, message, attributes, \
                       trace_id, client_record_id, receive_unix_nano";
/// Rows per COPY statement, each its own commit: the service's default batch
/// (`FEEDLINE_INGEST_BATCH_RECORDS`), so both pay one commit (one WAL flush) per 4000 rows.
const COPY_ROWS_PER_COMMIT: usize = 4000;
/// Rows per CopyData message: generating the next chunk overlaps the server parsing this one.
const COPY_ROWS_PER_CHUNK: usize = 500;
/// Rows per multi-row INSERT (10 parameters each: 5000 binds per statement).
const INSERT_ROWS: usize = 500;
/// The app_id of every raw row; the unique index is per app, like the service's.
const APP_ID: i64 = 1;

/// How one writer connection sends rows.
#[derive(Clone, Copy)]
pub enum Method {
    /// `COPY ... FROM STDIN` in text format, `COPY_ROWS_PER_COMMIT` rows per statement.
    Copy,
    /// `INSERT ... VALUES (...), (...)` of `INSERT_ROWS` rows with bind parameters.
    Insert,
}

impl Method {
    /// Rows each statement commits.
    pub fn rows(self) -> usize {
        match self {
            Method::Copy => COPY_ROWS_PER_COMMIT,
            Method::Insert => INSERT_ROWS,
        }
    }
}

/// Writes rows into a fresh `table` on `connections` connections for `duration`; each
/// statement is one answered call of the totals, of `method.rows()` rows.
pub async fn run(
    db: &BenchDatabase,
    table: &str,
    method: Method,
    connections: usize,
    duration: Duration,
) -> Result<Totals> {
    let mut setup = db.connect().await?;
    create_log_table(&mut setup, table).await?;
    checkpoint(&mut setup).await;
    // Every writer connects before the clock starts: the run measures writing only.
    let mut writers = Vec::with_capacity(connections);
    for _ in 0..connections {
        writers.push(Arc::new(Mutex::new(db.connect().await?)));
    }
    let recorder = Arc::new(Recorder::new());
    let load = Load {
        vus: connections,
        duration,
        rate: None,
    };
    let table_name = table.to_owned();
    drive(&load, &recorder, &CancellationToken::new(), move |call| {
        let (writer, table) = (writers[call.vu].clone(), table_name.clone());
        async move {
            let mut connection = writer.lock().await;
            let written = match method {
                Method::Copy => copy(&mut connection, &table, call.vu, call.n).await,
                Method::Insert => insert(&mut connection, &table, call.vu, call.n).await,
            };
            let result = written.map_err(|e| OpError::wrong("Sql", format!("{e:#}")));
            ("Write", result)
        }
    })
    .await;
    let totals = recorder.finish();
    if let Some((kind, error)) = totals.errors.iter().next() {
        anyhow::bail!("{table}: {kind}: {}", error.first_message);
    }
    let rows: i64 =
        sea_orm::sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut setup)
            .await?;
    let written = totals.all().ok * method.rows() as u64;
    anyhow::ensure!(
        rows.unsigned_abs() == written,
        "{table} holds {rows} rows but {written} were written"
    );
    Ok(totals)
}

/// One COPY statement of `COPY_ROWS_PER_COMMIT` rows, a commit of its own.
async fn copy(connection: &mut PgConnection, table: &str, writer: usize, n: u64) -> Result<()> {
    let statement = format!("COPY {table} ({COLUMNS}) FROM STDIN");
    let chunks = (COPY_ROWS_PER_COMMIT / COPY_ROWS_PER_CHUNK) as u64;
    let mut buffer = Vec::with_capacity(COPY_ROWS_PER_CHUNK * 320);
    let mut copy = connection
        .copy_in_raw(&statement)
        .await
        .context("COPY FROM STDIN failed to start")?;
    for chunk in n * chunks..(n + 1) * chunks {
        buffer.clear();
        copy_text(&mut buffer, writer, chunk, COPY_ROWS_PER_CHUNK);
        copy.send(buffer.as_slice()).await?;
    }
    let rows = copy.finish().await.context("COPY failed")?;
    anyhow::ensure!(
        rows == COPY_ROWS_PER_COMMIT as u64,
        "COPY wrote {rows} rows"
    );
    Ok(())
}

/// One multi-row INSERT of `INSERT_ROWS` rows (autocommit). The SQL text is the same every
/// time, so sqlx prepares it once and then only binds.
async fn insert(connection: &mut PgConnection, table: &str, writer: usize, n: u64) -> Result<()> {
    let (time, receive) = (now_unix_nano(), now_unix_nano());
    let call = n as usize;
    let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({COLUMNS}) "));
    insert.push_values(0..INSERT_ROWS, |mut values, i| {
        values
            .push_bind(row_id(writer, n) + i as i64)
            .push_bind(APP_ID)
            .push_bind(time)
            .push_bind(level(i) as i16)
            .push_bind(SERVICE)
            .push_bind(message(writer, call, i))
            .push_bind(ATTRIBUTES_JSON)
            .push_bind(None::<String>)
            .push_bind(client_record_id(writer, call, i))
            .push_bind(receive);
    });
    let done = insert
        .build()
        .execute(&mut *connection)
        .await
        .context("multi-row INSERT failed")?;
    anyhow::ensure!(
        done.rows_affected() == INSERT_ROWS as u64,
        "INSERT wrote {} rows",
        done.rows_affected()
    );
    Ok(())
}

/// Appends batch `seq` of `writer` (`rows` rows stamped now) to `out` in COPY's text format.
/// The generated fields hold no tab, newline or backslash, so nothing needs COPY escaping;
/// `\N` is NULL (no trace id).
fn copy_text(out: &mut Vec<u8>, writer: usize, seq: u64, rows: usize) {
    let (time, receive) = (now_unix_nano(), now_unix_nano());
    let first_id = row_id(writer, seq);
    let call = seq as usize;
    let mut line = String::with_capacity(320);
    for i in 0..rows {
        line.clear();
        let _ = writeln!(
            line,
            "{}\t{APP_ID}\t{time}\t{}\t{SERVICE}\t{}\t{ATTRIBUTES_JSON}\t\\N\t{}\t{receive}",
            first_id + i as i64,
            level(i) as i16,
            message(writer, call, i),
            client_record_id(writer, call, i),
        );
        out.extend_from_slice(line.as_bytes());
    }
}

/// The first id of batch `seq` of `writer`: distinct across writers (the writer in the top bits)
/// and batches (none is over 1000 rows).
fn row_id(writer: usize, seq: u64) -> i64 {
    ((writer as i64) << 40) + (seq as i64) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_has_ten_columns_per_line() {
        let mut out = Vec::new();
        copy_text(&mut out, 3, 4, 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].split('\t').count(), 10);
        assert!(lines[1].starts_with(&format!("{}\t1\t", row_id(3, 4) + 1)));
        assert!(lines[1].contains("\t\\N\t3-4-1\t"));
    }
}
