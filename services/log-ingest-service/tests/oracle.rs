//! Oracle tests in process: every OK makes its records an obligation; at the end each is in
//! the database exactly once. Steady load, and one in ten batch writes failing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use feedline_test_harness::Backend;
use log_ingest_service::pipeline::FaultPlan;

use common::TestServer;
use common::oracle::{self, ClientIds, Load};

/// Runs `load` on `backend` with `faults` and checks the oracle; returns the tally.
async fn oracle_run(backend: Backend, faults: FaultPlan, extra: &[(&str, &str)], load: Load) {
    let Some(server) = TestServer::start_with(backend, extra, faults).await else {
        eprintln!("skipped: {} backend not enabled", backend.name());
        return;
    };
    let key = server.create_app("oracle").await;
    let tally = oracle::run(&server.client, &key, &load).await;
    let expected = load.senders * load.calls * load.records;
    assert_eq!(tally.acked.len(), expected, "every call ends acknowledged");
    let (missing, duplicated) = oracle::check(&server.db, &tally, &load.tag).await;
    assert_eq!((missing, duplicated), (0, 0), "{tally:?}");
    assert_eq!(tally.duplicates, 0, "nothing was sent twice by the client");
    server.stop().await;
}

fn steady() -> Load {
    Load {
        senders: 16,
        calls: 20,
        records: 100,
        client_ids: ClientIds::Half,
        tag: "steady".into(),
        until: None,
    }
}

/// One write in ten fails, alternately before the write and after its commit (the unknown
/// outcome of a lost connection). Retried inside the service, every call still ends OK, and
/// records without client ids are not stored twice: the record's own id is the primary key.
fn faulty() -> (FaultPlan, Load) {
    (
        FaultPlan { fail_one_in: 10 },
        Load {
            tag: "faulty".into(),
            // No ids: only the record's own primary key guards the retried batches (and on
            // PostgreSQL they are COPY batches).
            client_ids: ClientIds::None,
            ..steady()
        },
    )
}

macro_rules! on_backends {
    ($($module:ident => $backend:ident),*) => {$(
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn steady_load_loses_and_duplicates_nothing() {
                oracle_run(Backend::$backend, FaultPlan::default(), &[], steady()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_in_ten_failed_writes_lose_and_duplicate_nothing() {
                let (faults, load) = faulty();
                // Small batches: many writes, so many of them fail.
                let extra = [("FEEDLINE_INGEST_BATCH_RECORDS", "300")];
                oracle_run(Backend::$backend, faults, &extra, load).await;
            }
        }
    )*};
}

on_backends!(sqlite => Sqlite, postgres => Postgres, mysql => Mysql);

/// With a retry budget of zero, an injected failure is failed back to every call of its batch
/// (UNAVAILABLE), never dropped; the client's retry then lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batches_are_failed_back_to_every_caller() {
    let Some(server) = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("FEEDLINE_INGEST_RETRY_MS", "0"),
            ("FEEDLINE_INGEST_BATCH_RECORDS", "200"),
        ],
        FaultPlan { fail_one_in: 3 },
    )
    .await
    else {
        return;
    };
    let key = server.create_app("failback").await;
    let load = Load {
        senders: 8,
        calls: 10,
        records: 50,
        client_ids: ClientIds::All,
        tag: "failback".into(),
        until: None,
    };
    let tally = oracle::run(&server.client, &key, &load).await;
    let unavailable = tally
        .refused
        .get(&tonic::Code::Unavailable)
        .copied()
        .unwrap_or(0);
    assert!(unavailable > 0, "some calls were failed back: {tally:?}");
    // A failure after the commit, failed back and retried by the client, is a duplicate.
    assert!(
        tally.duplicates > 0,
        "after-commit failures came back as duplicates: {tally:?}"
    );
    let (missing, duplicated) = oracle::check(&server.db, &tally, &load.tag).await;
    assert_eq!((missing, duplicated), (0, 0));
    server.stop().await;
}
