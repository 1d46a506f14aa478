//! The raw baselines: what PostgreSQL takes straight from a client, with no service in between,
//! into a fresh table with `log_records`' schema and indexes. They are the ceiling the
//! service's rates are divided by.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use sea_orm::sqlx::postgres::{PgConnection, Postgres};
use sea_orm::sqlx::{AssertSqlSafe, QueryBuilder};

use super::database::{BenchDatabase, checkpoint, create_log_table};
use super::outcome::Outcome;
use super::records::{self, ATTRIBUTES_JSON, COLUMNS, SERVICE};

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

/// Writes rows into a fresh `table` on `connections` connections for `duration`.
pub async fn run(
    db: &BenchDatabase,
    table: &str,
    method: Method,
    connections: usize,
    duration: Duration,
) -> Result<Outcome> {
    let mut setup = db.connect().await?;
    create_log_table(&mut setup, table).await?;
    checkpoint(&mut setup).await;
    // Every writer connects before the clock starts: the run measures writing only.
    let mut writers = Vec::with_capacity(connections);
    for _ in 0..connections {
        writers.push(db.connect().await?);
    }
    let started = Instant::now();
    let stop = started + duration;
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(writer, mut connection)| {
            let table = table.to_owned();
            tokio::spawn(async move {
                match method {
                    Method::Copy => copy_loop(&mut connection, &table, writer, stop).await,
                    Method::Insert => insert_loop(&mut connection, &table, writer, stop).await,
                }
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        total.absorb(task.await??);
    }
    total.elapsed = started.elapsed();
    let rows: i64 =
        sea_orm::sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut setup)
            .await?;
    anyhow::ensure!(
        rows.unsigned_abs() == total.records,
        "{table} holds {rows} rows but {} were written",
        total.records
    );
    Ok(total)
}

/// One COPY statement after another until `stop`; each is a commit of its own.
async fn copy_loop(
    connection: &mut PgConnection,
    table: &str,
    writer: usize,
    stop: Instant,
) -> Result<Outcome> {
    let statement = format!("COPY {table} ({COLUMNS}) FROM STDIN");
    let chunks = COPY_ROWS_PER_COMMIT / COPY_ROWS_PER_CHUNK;
    let mut outcome = Outcome::default();
    let mut buffer = Vec::with_capacity(COPY_ROWS_PER_CHUNK * 320);
    let mut seq = 0u64;
    while Instant::now() < stop {
        let sent = Instant::now();
        let mut copy = connection
            .copy_in_raw(&statement)
            .await
            .context("COPY FROM STDIN failed to start")?;
        for _ in 0..chunks {
            let rows = records::rows(writer, seq, row_id(writer, seq), COPY_ROWS_PER_CHUNK);
            buffer.clear();
            records::copy_text(&mut buffer, APP_ID, &rows, records::now_unix_nano());
            copy.send(buffer.as_slice()).await?;
            seq += 1;
        }
        outcome.records += copy.finish().await.context("COPY failed")?;
        outcome.latencies.push(sent.elapsed());
    }
    Ok(outcome)
}

/// One multi-row INSERT after another until `stop`, each its own commit (autocommit). The SQL
/// text is the same every time, so sqlx prepares it once and then only binds.
async fn insert_loop(
    connection: &mut PgConnection,
    table: &str,
    writer: usize,
    stop: Instant,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut seq = 0u64;
    while Instant::now() < stop {
        let sent = Instant::now();
        let receive = records::now_unix_nano();
        let rows = records::rows(writer, seq, row_id(writer, seq), INSERT_ROWS);
        let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({COLUMNS}) "));
        insert.push_values(rows, |mut values, row| {
            values
                .push_bind(row.id)
                .push_bind(APP_ID)
                .push_bind(row.time_unix_nano)
                .push_bind(3i16)
                .push_bind(SERVICE)
                .push_bind(row.message)
                .push_bind(ATTRIBUTES_JSON)
                .push_bind(None::<String>)
                .push_bind(row.client_record_id)
                .push_bind(receive);
        });
        let done = insert
            .build()
            .execute(&mut *connection)
            .await
            .context("multi-row INSERT failed")?;
        outcome.records += done.rows_affected();
        outcome.latencies.push(sent.elapsed());
        seq += 1;
    }
    Ok(outcome)
}

/// The first id of batch `seq` of `writer`: distinct across writers (the writer in the top bits)
/// and batches (none is over 1000 rows).
fn row_id(writer: usize, seq: u64) -> i64 {
    ((writer as i64) << 40) + (seq as i64) * 1000
}
