//! Oracle tests against real processes and a real database outage: the service killed with
//! SIGKILL mid-load and restarted, three times; the database stopped mid-load and started again; SIGTERM
//! flushing what was queued. In every case: 0 acknowledged records missing, 0 duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use feedline_test_harness::{
    Backend, OwnedPostgres, TestDatabase, eventually, free_addr, wait_for_health,
};
use sea_orm::Database;
use tokio::time::Instant;

use common::oracle::{self, ClientIds, Load};
use common::process::ServiceProcess;
use common::{client, count_rows, create_app, record, service_env, with_key};
use feedline_proto::logs::v1::IngestRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use tonic::transport::Channel;

/// PostgreSQL when enabled (the deployment target), else SQLite.
async fn database() -> TestDatabase {
    match TestDatabase::create(Backend::Postgres).await.unwrap() {
        Some(db) => db,
        None => TestDatabase::create(Backend::Sqlite)
            .await
            .unwrap()
            .unwrap(),
    }
}

/// Polls `count` until it reaches `at_least`, within a deadline.
async fn until_rows(db: &sea_orm::DatabaseConnection, at_least: i64) {
    let what = format!("the load reaching {at_least} rows");
    eventually(&what, Duration::from_secs(60), || async {
        let rows = count_rows(db).await;
        anyhow::ensure!(rows >= at_least, "{rows} rows");
        Ok(())
    })
    .await
    .unwrap();
}

/// Sends one-record calls until one is answered UNAVAILABLE, within a deadline.
async fn until_unavailable(client: &LogServiceClient<Channel>, key: &str) {
    eventually(
        "a call answered UNAVAILABLE",
        Duration::from_secs(60),
        || async {
            let request = with_key(
                key,
                IngestRequest {
                    records: vec![record("outage-probe", "")],
                },
            );
            match client.clone().ingest(request).await {
                Err(status) if status.code() == tonic::Code::Unavailable => Ok(()),
                other => anyhow::bail!("{other:?}"),
            }
        },
    )
    .await
    .unwrap();
}

fn load(tag: &str) -> Load {
    Load {
        senders: 8,
        calls: 40,
        records: 100,
        client_ids: ClientIds::All,
        tag: tag.into(),
        until: Some(Arc::new(AtomicBool::new(false))),
    }
}

/// Lets a load started with [`load`] finish its remaining calls.
fn finish(load: &Load) {
    if let Some(flag) = &load.until {
        flag.store(true, Ordering::Relaxed);
    }
}

/// How long a restarted process may take to answer SERVING after a SIGKILL (its start,
/// migrations and node-id lease included; a debug build on a busy 2-core machine).
const SERVING_AGAIN_WITHIN: Duration = Duration::from_secs(20);
/// SIGKILLs per test.
const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_three_times_mid_load_loses_and_duplicates_nothing() {
    let database = database().await;
    let addr = free_addr().unwrap();
    let env = service_env(database.url(), addr, &[]);
    let mut running = ServiceProcess::spawn(&env, addr).await;
    let client = client(addr).await;
    let key = create_app(&client, "crash").await;
    let db = Database::connect(database.url()).await.unwrap();

    let load = load("crash");
    let sender = tokio::spawn({
        let (client, key, load) = (client.clone(), key.clone(), load.clone());
        async move { oracle::run(&client, &key, &load).await }
    });
    let mut at = 0;
    for kill in 1..=KILLS {
        // Each crash lands mid-load: 3,000 more rows committed since the last restart.
        until_rows(&db, at + 3_000).await;
        running.kill().await;
        let killed = Instant::now();
        // `spawn` returns once the new process answers SERVING.
        running = ServiceProcess::spawn(&env, addr).await;
        let serving = killed.elapsed();
        eprintln!("kill {kill}: serving again {serving:?} after the SIGKILL");
        assert!(
            serving < SERVING_AGAIN_WITHIN,
            "kill {kill}: serving again only after {serving:?}"
        );
        at = count_rows(&db).await;
    }
    // Some calls land on the last process before the load may end.
    until_rows(&db, at + 2_000).await;
    finish(&load);
    let tally = sender.await.unwrap();

    assert!(
        !tally.refused.is_empty(),
        "the senders felt the crashes: {tally:?}"
    );
    let (missing, duplicated) = oracle::check(&db, &tally, &load.tag).await;
    eprintln!("{tally:?}: {missing} missing, {duplicated} duplicated");
    assert_eq!((missing, duplicated), (0, 0), "{tally:?}");
    assert!(tally.acked.len() >= 8 * 40 * 100);
    assert!(
        running.terminate(Duration::from_secs(15)).await,
        "clean exit on SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_mid_load_loses_nothing_and_the_service_recovers() {
    let Some(pg) = OwnedPostgres::start().await.unwrap() else {
        eprintln!("skipped: no PostgreSQL server binaries to own an instance");
        return;
    };
    let addr = free_addr().unwrap();
    // Short retries: calls caught by the outage are failed back (UNAVAILABLE) and retried.
    let env = service_env(&pg.url(), addr, &[("FEEDLINE_INGEST_RETRY_MS", "300")]);
    let service = ServiceProcess::spawn(&env, addr).await;
    let client = client(addr).await;
    let key = create_app(&client, "outage").await;
    let db = Database::connect(pg.url()).await.unwrap();

    let load = load("outage");
    let sender = tokio::spawn({
        let (client, key, load) = (client.clone(), key.clone(), load.clone());
        async move { oracle::run(&client, &key, &load).await }
    });
    until_rows(&db, 5_000).await;
    pg.stop().await.unwrap();
    // The service notices, says so on its health, and fails calls back as UNAVAILABLE...
    wait_for_health(addr, "", false, Duration::from_secs(30))
        .await
        .unwrap();
    until_unavailable(&client, &key).await;
    pg.restart().await.unwrap();
    // ...and comes back by itself once the database does.
    wait_for_health(addr, "", true, Duration::from_secs(60))
        .await
        .unwrap();
    let after = count_rows(&db).await;
    until_rows(&db, after + 2_000).await;
    finish(&load);
    let tally = sender.await.unwrap();

    let (missing, duplicated) = oracle::check(&db, &tally, &load.tag).await;
    assert_eq!((missing, duplicated), (0, 0), "{tally:?}");
    assert!(tally.acked.len() >= 8 * 40 * 100);
    assert!(service.terminate(Duration::from_secs(15)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_what_is_queued_and_exits() {
    let database = database().await;
    let addr = free_addr().unwrap();
    // A long linger: calls sit in the batcher when SIGTERM comes, and must still commit.
    let env = service_env(
        database.url(),
        addr,
        &[("FEEDLINE_INGEST_LINGER_MS", "5000")],
    );
    let service = ServiceProcess::spawn(&env, addr).await;
    let client = client(addr).await;
    let key = create_app(&client, "drain").await;
    let db = Database::connect(database.url()).await.unwrap();
    let calls: Vec<_> = (0..4)
        .map(|c| {
            let (mut client, key) = (client.clone(), key.clone());
            tokio::spawn(async move {
                let records = (0..10)
                    .map(|i| record(&format!("drain {c} {i}"), &format!("drain {c} {i}")))
                    .collect();
                let request = with_key(&key, IngestRequest { records });
                client
                    .ingest(request)
                    .await
                    .map(|a| a.into_inner().accepted)
            })
        })
        .collect();
    // Let the calls arrive; they wait in the batcher for its linger (5 s), so none is stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count_rows(&db).await, 0, "the linger holds the batch");
    let started = Instant::now();
    assert!(
        service.terminate(Duration::from_secs(15)).await,
        "clean exit"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exit within the grace period"
    );
    let mut acknowledged = 0;
    for call in calls {
        if let Ok(accepted) = call.await.unwrap() {
            assert_eq!(accepted, 10);
            acknowledged += 10;
        }
    }
    assert!(
        acknowledged > 0,
        "calls queued at SIGTERM were flushed and answered"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "flushed at once, not after the linger"
    );
    assert_eq!(
        count_rows(&db).await,
        acknowledged,
        "every acknowledged record is stored"
    );
}
