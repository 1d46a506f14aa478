//! `logs`: S senders x R calls x B records into an app of the run's own, unary or streamed,
//! then every acknowledged record looked up with QueryLogs: nothing missing, nothing twice.

pub mod app;
pub mod records;
pub mod stream;
pub mod unary;
mod verify;
pub mod wire;

use std::sync::Arc;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use serde_json::json;
use tokio::task::JoinSet;

use self::records::Numbering;
use super::{Context, now_unix_ms};
use crate::connect;
use crate::options::{LogsOptions, ScenarioKind};
use crate::report::{LogsFigures, Report};
use crate::stats::{Progress, Recorder};

/// Runs the scenario.
pub async fn run(options: &LogsOptions, ctx: &Context<'_>) -> Result<Report> {
    connect::check_health(&[ctx.logs()]).await?;
    let channels = connect::plain_channels(ctx.logs(), ctx.options.connections).await?;
    let app = format!("loadgen-{}", ctx.run_id);
    let bearer = connect::credential(ctx.target().token.as_deref())?;
    let created = app::create(&channels[0], &app, options.admin_token.as_deref(), &bearer).await?;
    let clients = app::clients(&channels, &created.key)?;
    let mode = if options.stream { "stream" } else { "unary" };
    let shape = if options.stream {
        format!(
            "{} streams x {} batches of {} records, {} in flight per stream",
            options.senders, options.calls, options.records, options.in_flight
        )
    } else {
        format!(
            "{} senders x {} calls x {} records, unary Ingest",
            options.senders, options.calls, options.records
        )
    };
    eprintln!("load (run {}, app {app}): {shape}", ctx.run_id);

    let recorder = Arc::new(Recorder::new());
    let started_unix_ms = now_unix_ms();
    // The records are stamped by the senders' clock: read back from a little before.
    let span_start = unix_ns() - 1_000_000_000;
    let progress = Progress::load(recorder.clone(), None);
    let mut senders = JoinSet::new();
    for sender in 0..options.senders {
        let client = clients[sender % clients.len()].clone();
        let (recorder, stop) = (recorder.clone(), ctx.stop.clone());
        let (calls, records, in_flight) = (options.calls, options.records, options.in_flight);
        let stream = options.stream;
        senders.spawn(async move {
            let acked = if stream {
                stream::sender(
                    client,
                    sender,
                    (calls, records, in_flight),
                    &recorder,
                    &stop,
                )
                .await
            } else {
                unary::sender(client, sender, calls, records, &recorder, &stop).await
            };
            (sender, acked)
        });
    }
    let mut acked = vec![false; options.senders * options.calls];
    while let Some(done) = senders.join_next().await {
        let (sender, calls) = done.map_err(|e| anyhow!("a sender failed: {e}"))?;
        let start = sender * options.calls;
        acked[start..start + calls.len()].copy_from_slice(&calls);
    }
    let totals = recorder.finish();
    progress.stop().await;
    let span_end = unix_ns() + 1_000_000_000;

    let numbering = Numbering {
        senders: options.senders,
        calls: options.calls,
        records: options.records,
    };
    let acked_records = acked.iter().filter(|a| **a).count() * options.records;
    eprintln!("verifying: reading every record of app {app} back");
    let verified = verify::verify(&clients, numbering, &acked, (span_start, span_end)).await?;
    let logs = LogsFigures {
        mode,
        senders: options.senders as u64,
        calls: options.calls as u64,
        records_per_call: options.records as u64,
        acked: acked_records as u64,
        records_per_s: acked_records as f64 / totals.elapsed.as_secs_f64().max(1e-9),
        found: verified.found,
        missing: verified.missing,
        duplicates: verified.duplicates,
        unexpected: verified.unexpected,
        verify: verified.took,
    };
    Ok(Report {
        scenario: ScenarioKind::Logs,
        run_id: ctx.run_id.clone(),
        started_unix_ms,
        shape,
        options: vec![
            ("senders", json!(options.senders)),
            ("calls", json!(options.calls)),
            ("records", json!(options.records)),
            ("stream", json!(options.stream)),
            ("in_flight", json!(options.in_flight)),
            ("connections", json!(ctx.options.connections)),
            ("app", json!(app)),
        ],
        totals,
        fanout: None,
        logs: Some(logs),
        follows: None,
        notes: Vec::new(),
    })
}

fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
