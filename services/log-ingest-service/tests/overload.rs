//! Overload at several times capacity: the queue's budget turns calls away at once with
//! RESOURCE_EXHAUSTED and a retry hint, resident memory stays under the budget plus a margin,
//! and what was acknowledged is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use feedline_proto::logs::v1::IngestRequest;
use feedline_test_harness::{Backend, TestDatabase, free_addr, retry_delay};
use sea_orm::Database;
use tokio::time::Instant;
use tonic::Code;

use common::process::ServiceProcess;
use common::{client, count_rows, create_app, record, service_env, with_key};

/// The queue budget of this test, in MiB (the smallest the config allows).
const QUEUE_MIB: u64 = 8;
/// The documented margin over the budget: the process itself (runtime, pools, TLS-free
/// tonic, allocator slack), ~40 MiB measured idle, plus requests being decoded before
/// admission can refuse them: at most `SENDERS` calls of ~0.5 MiB, counted twice (wire
/// bytes and decoded records).
const BASE_MARGIN_MIB: u64 = 64;
const SENDERS: usize = 32;
const CALL_RECORDS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_refused_at_once_and_memory_stays_bounded() {
    let database = match TestDatabase::create(Backend::Postgres).await.unwrap() {
        Some(db) => db,
        None => TestDatabase::create(Backend::Sqlite)
            .await
            .unwrap()
            .unwrap(),
    };
    let addr = free_addr().unwrap();
    // Capacity made small on purpose: one writer, small batches.
    let env = service_env(
        database.url(),
        addr,
        &[
            ("FEEDLINE_INGEST_WORKERS", "1"),
            ("FEEDLINE_INGEST_BATCH_RECORDS", "200"),
            ("FEEDLINE_INGEST_QUEUE_RECORDS", "1000"),
            ("FEEDLINE_INGEST_QUEUE_MIB", &QUEUE_MIB.to_string()),
        ],
    );
    let service = ServiceProcess::spawn(&env, addr).await;
    let client = client(addr).await;
    let key = create_app(&client, "flood").await;
    let idle_kib = service.rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let refusal_us = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (mut client, key) = (client.clone(), key.clone());
        let (stop, acked, refused, slowest) = (
            stop.clone(),
            acked.clone(),
            refused.clone(),
            refusal_us.clone(),
        );
        senders.push(tokio::spawn(async move {
            let body = "x".repeat(1000);
            let mut c = 0;
            while !stop.load(Ordering::Relaxed) {
                let records = (0..CALL_RECORDS)
                    .map(|i| record(&format!("flood {s} {c} {i} {body}"), ""))
                    .collect();
                c += 1;
                let started = Instant::now();
                match client
                    .ingest(with_key(&key, IngestRequest { records }))
                    .await
                {
                    Ok(answer) => {
                        acked.fetch_add(answer.into_inner().accepted as u64, Ordering::Relaxed);
                    }
                    Err(status) => {
                        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                        assert!(retry_delay(&status).is_some(), "a retry hint");
                        refused.fetch_add(1, Ordering::Relaxed);
                        slowest
                            .lock()
                            .unwrap()
                            .push(started.elapsed().as_micros() as u64);
                        // No backoff: the flood keeps the pressure at several times capacity.
                    }
                }
            }
        }));
    }
    let mut peak_kib = 0;
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        peak_kib = peak_kib.max(service.rss_kib());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let (acked, refused) = (
        acked.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    let mut refusals = refusal_us.lock().unwrap().clone();
    refusals.sort_unstable();
    let at = |q: f64| {
        refusals
            .get(((refusals.len() as f64 * q) as usize).min(refusals.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    // Speed lives in the benchmark; printed here for the record, not asserted.
    eprintln!(
        "overload: {acked} records acknowledged, {refused} calls refused (p50 {} us, p99 {} us), \
         RSS idle {idle_kib} KiB, peak {peak_kib} KiB",
        at(0.5),
        at(0.99)
    );
    assert!(
        refused > acked / CALL_RECORDS as u64,
        "most calls were refused: at several times capacity"
    );
    assert!(acked > 0, "the service kept writing under the flood");
    let call_mib = (CALL_RECORDS as u64 * 1100) >> 20;
    let limit_kib = (QUEUE_MIB + BASE_MARGIN_MIB + 2 * SENDERS as u64 * call_mib.max(1)) << 10;
    assert!(
        peak_kib < limit_kib,
        "peak RSS {peak_kib} KiB over {limit_kib} KiB"
    );

    let db = Database::connect(database.url()).await.unwrap();
    assert_eq!(
        count_rows(&db).await as u64,
        acked,
        "every acknowledged record is stored"
    );
    assert!(service.terminate(Duration::from_secs(15)).await);
}
