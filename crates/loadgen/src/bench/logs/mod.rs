//! `bench logs`: log records/s of log-ingest-service next to raw COPY and raw multi-row INSERT
//! into the same PostgreSQL, in one run, on one machine.
//!
//! The order is fixed: the raw baselines (each into a fresh table with `log_records`' schema and
//! indexes), then the service in its `perf` build: closed-loop unary senders, streaming
//! clients, and a fixed rate for latency. Each service run uses its own app, and at the end every
//! app's stored rows are counted against the records acknowledged to it: nothing may be lost.

mod database;
mod load;
mod raw;
mod report;
mod service;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow};
use sea_orm::sqlx::Connection as _;

use self::database::{BenchDatabase, checkpoint, service_rows};
use self::raw::Method;
use self::report::{Report, Run};
use self::service::{Service, ServiceContext as _, no_errors};
use super::LogsBench;
use crate::report::text::count;

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
    // Reachability first: a missing server should fail before anything starts.
    database::connect(&options.database_url)
        .await?
        .close()
        .await?;
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
    report.print(&options);
    Ok(if report.lost() == 0 {
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
        let totals = raw::run(db, table, method, connections, duration).await?;
        report.runs.push(Run {
            label: label.to_owned(),
            short,
            totals,
            per_call: method.rows() as u64,
            service: false,
        });
    }

    let logs = tempfile::tempdir()?;
    let mut service = Service::start(db, logs.path()).await?;
    let channels = service.connect(UNARY_CONNECTIONS).await?;
    let mut check = db.connect().await?;
    let records = options.records;
    let service_run = |label: String, short, totals, per_call| Run {
        label,
        short,
        totals,
        per_call,
        service: true,
    };

    let unary_app = service.create_app(&channels[0], "bench-unary").await?;
    let clients = Service::clients(&channels, &unary_app)?;
    // One call per connection first: connections, pools and caches warm before the clock runs.
    let warmed = load::warm_up(&clients, WARM_UP_SENDER, records)
        .await
        .service_context(&mut service, "warm-up")?;
    let label = format!(
        "service Ingest, {} senders x {records} records",
        options.senders
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let unary = no_errors(load::unary(&clients, options.senders, records, None, duration).await)
        .service_context(&mut service, "unary")?;
    let run = service_run(label, "service unary", unary, records as u64);
    report.service_run(run, &unary_app, warmed);

    let stream_app = service.create_app(&channels[0], "bench-stream").await?;
    let stream_channels = service.connect(options.stream_clients).await?;
    let label = format!(
        "service IngestStream, {} clients x {STREAM_IN_FLIGHT} x {STREAM_BATCH}",
        options.stream_clients
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let stream_clients = Service::clients(&stream_channels, &stream_app)?;
    let streamed = load::streams(&stream_clients, STREAM_IN_FLIGHT, STREAM_BATCH, duration).await;
    let streamed = no_errors(streamed).service_context(&mut service, "stream")?;
    let run = service_run(label, "service stream", streamed, STREAM_BATCH as u64);
    report.service_run(run, &stream_app, 0);

    let fixed_app = service.create_app(&channels[0], "bench-fixed").await?;
    let label = format!(
        "service Ingest at a fixed {} records/s",
        count(FIXED_RATE as f64)
    );
    announce(&label, duration);
    checkpoint(&mut check).await;
    let fixed_clients = Service::clients(&channels, &fixed_app)?;
    let rate = Some(FIXED_RATE);
    let fixed = load::unary(&fixed_clients, options.senders, records, rate, duration).await;
    let fixed = no_errors(fixed).service_context(&mut service, "fixed-rate")?;
    let run = service_run(label, "service fixed rate", fixed, records as u64);
    report.service_run(run, &fixed_app, 0);

    for app in &mut report.apps {
        app.stored = service_rows(&mut check, app.app_id).await?;
    }
    Ok(report)
}

fn announce(label: &str, duration: Duration) {
    println!("running: {label}, {} s", duration.as_secs());
}
