//! `cargo xtask bench logs`: log records/s of log-ingest-service next to raw COPY and raw
//! multi-row INSERT into the same PostgreSQL, in one run, on one machine.
//!
//! The order is fixed: the raw baselines (each into a fresh table with `log_records`' schema and
//! indexes), then the service built in the `perf` profile: closed-loop unary senders, streaming
//! clients, and a fixed rate for latency. Each service run uses its own app, and at the end every
//! app's stored rows are counted against the records acknowledged to it: nothing may be lost.

mod database;
mod outcome;
mod raw;
mod records;
mod report;
mod service;
mod stream;
mod unary;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use feedline_loadgen::report::text::count;
use sea_orm::sqlx::Connection as _;

use self::database::{BenchDatabase, checkpoint, service_rows};
use self::outcome::Outcome;
use self::raw::Method;
use self::report::{Report, Run};
use self::service::{Service, ServiceContext as _};
use self::stream::StreamShape;
use super::process::build_perf;

/// Options of `bench logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsBench {
    /// Closed-loop unary senders (and the pool size of the fixed-rate run).
    pub senders: usize,
    /// Records per Ingest call.
    pub records: usize,
    /// Seconds of each run.
    pub duration: u64,
    /// IngestStream clients.
    pub stream_clients: usize,
    /// A PostgreSQL server on which the benchmark may create and drop a database.
    pub database_url: String,
}

impl Default for LogsBench {
    fn default() -> Self {
        Self {
            senders: 400,
            records: 100,
            duration: 15,
            stream_clients: 16,
            database_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
        }
    }
}

/// Connections the unary senders share: a fleet of shippers reaches a service through a few
/// HTTP/2 connections (proxies, pooled channels), each multiplexing many calls.
const UNARY_CONNECTIONS: usize = 8;
/// Batches each stream keeps unanswered.
const STREAM_IN_FLIGHT: usize = 8;
/// Records per stream batch (the contract's maximum per batch).
const STREAM_BATCH: usize = 1000;
/// The fixed-rate run's target.
const FIXED_RATE: u64 = 50_000;
/// The raw baselines, in order: label, short name, table, method, connections.
const RAW_RUNS: [(&str, &str, &str, Method, usize); 3] = [
    (
        "raw COPY, 1 connection",
        "raw COPY x1",
        "raw_copy_1",
        Method::Copy,
        1,
    ),
    (
        "raw COPY, 2 connections",
        "raw COPY x2",
        "raw_copy_2",
        Method::Copy,
        2,
    ),
    (
        "raw INSERT 500 rows, 2 connections",
        "raw INSERT x2",
        "raw_insert_2",
        Method::Insert,
        2,
    ),
];
/// Sender numbers of the warm-up calls: apart from the measured senders' `0..senders`.
const WARM_UP_SENDER: usize = 1_000_000;

/// Runs the benchmark and prints its table; fails if any acknowledged record is missing.
pub async fn run(options: LogsBench) -> Result<ExitCode> {
    // Reachability first: a missing server should fail now, not after a long build.
    database::connect(&options.database_url)
        .await?
        .close()
        .await?;
    build_perf(&["log-ingest-service"])?;
    let db = BenchDatabase::create(&options.database_url).await?;
    println!(
        "created database {} on PostgreSQL {}; it is dropped at the end",
        db.name, db.server_version
    );
    let measured = tokio::select! {
        measured = measure(&db, &options) => measured,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let name = db.name.clone();
    let dropped = db.drop_database().await;
    let report = measured?;
    if let Err(error) = dropped {
        eprintln!("cannot drop the benchmark database {name}: {error:#}");
    }
    let lost = report.lost();
    report.print(&options);
    Ok(if lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every run, in order; the service's process lives only inside.
async fn measure(db: &BenchDatabase, options: &LogsBench) -> Result<Report> {
    let duration = Duration::from_secs(options.duration);
    let mut report = Report::new(db);

    for (label, short, table, method, connections) in RAW_RUNS {
        announce(label, duration);
        let outcome = raw::run(db, table, method, connections, duration).await?;
        report.runs.push(Run::raw(label, short, outcome));
    }

    let logs = tempfile::tempdir()?;
    let mut service = Service::start(db, logs.path()).await?;
    let channels = service.connect(UNARY_CONNECTIONS).await?;
    let mut check = db.connect().await?;

    let unary_app = service.create_app(&channels[0], "bench-unary").await?;
    let clients = Service::clients(&channels, &unary_app)?;
    // One call per connection first: connections, pools and caches warm before the clock runs.
    let mut warm_up = Outcome::default();
    for (i, client) in clients.iter().enumerate() {
        let mut client = client.clone();
        let sender = WARM_UP_SENDER + i;
        unary::ingest_acknowledged(
            &mut client,
            sender,
            0,
            options.records,
            Instant::now(),
            &mut warm_up,
        )
        .await
        .service_context(&mut service, "warm-up")?;
    }
    let label = format!(
        "service Ingest, {} senders x {} records",
        options.senders, options.records
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let unary = unary::closed_loop(&clients, options.senders, options.records, duration)
        .await
        .service_context(&mut service, "unary")?;
    report.expect_rows(&unary_app, unary.records + warm_up.records);
    report
        .runs
        .push(Run::service(label, "service unary", unary));

    let stream_app = service.create_app(&channels[0], "bench-stream").await?;
    let stream_channels = service.connect(options.stream_clients).await?;
    let shape = StreamShape {
        clients: options.stream_clients,
        in_flight: STREAM_IN_FLIGHT,
        records: STREAM_BATCH,
    };
    let label = format!(
        "service IngestStream, {} clients x {STREAM_IN_FLIGHT} x {STREAM_BATCH}",
        options.stream_clients
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let streamed = stream::run(
        &Service::clients(&stream_channels, &stream_app)?,
        shape,
        duration,
    )
    .await
    .service_context(&mut service, "stream")?;
    report.expect_rows(&stream_app, streamed.records);
    report
        .runs
        .push(Run::service(label, "service stream", streamed));

    let fixed_app = service.create_app(&channels[0], "bench-fixed").await?;
    let label = format!(
        "service Ingest at a fixed {} records/s",
        count(FIXED_RATE as f64)
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let fixed = unary::fixed_rate(
        &Service::clients(&channels, &fixed_app)?,
        options.senders,
        options.records,
        FIXED_RATE,
        duration,
    )
    .await
    .service_context(&mut service, "fixed-rate")?;
    report.expect_rows(&fixed_app, fixed.records);
    report
        .runs
        .push(Run::service(label, "service fixed rate", fixed));

    for app in &mut report.apps {
        app.stored = service_rows(&mut check, app.app_id).await?;
    }
    Ok(report)
}

fn announce(label: &str, duration: Duration) {
    println!("running: {label}, {} s", duration.as_secs());
}
