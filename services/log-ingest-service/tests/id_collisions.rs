//! Ids that never repeat, seen from log-ingest on SQLite, PostgreSQL and MySQL/MariaDB: a
//! write whose id is stored already with other content is refused, never acknowledged (the
//! store compares content, not only the id); and two real log-ingest processes on one
//! database lease distinct node ids, store every record they acknowledge, and free their node
//! ids when stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::collections::HashSet;
use std::time::Duration;

use feedline_proto::logs::v1::IngestRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_service_kit::ids::node_of;
use feedline_test_harness::{Backend, TestDatabase, free_addr};
use log_ingest_service::error::Error;
use log_ingest_service::record::NewRecord;
use log_ingest_service::store::Store;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tonic::transport::Channel;

use common::process::ServiceProcess;
use common::{client, count_rows, create_app, record, service_env, with_key};

const RECEIVED: i64 = 1_700_000_000_000_000_000;

fn rec(id: i64, client_id: Option<&str>, message: &str) -> NewRecord {
    NewRecord {
        id,
        app_id: 7,
        time_unix_nano: RECEIVED - id,
        level: 3,
        service: "svc".into(),
        message: message.into(),
        attributes: "{}".into(),
        trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
        client_record_id: client_id.map(str::to_owned),
    }
}

/// The rows of one SELECT, each as its columns' strings.
async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<Vec<String>> {
    let found = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql);
    found
        .into_iter()
        .map(|row| {
            (0..)
                .map_while(|i| {
                    row.try_get_by_index::<i64>(i)
                        .map(|v| v.to_string())
                        .or_else(|_| row.try_get_by_index::<String>(i))
                        .ok()
                })
                .collect()
        })
        .collect()
}

async fn a_reused_id_with_other_content_is_never_acknowledged(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await.unwrap() else {
        eprintln!("skipped: {} backend not enabled", backend.name());
        return;
    };
    let store = Store::connect(database.url(), 4).await.unwrap();
    let first = [rec(1, None, "first"), rec(2, Some("x"), "second")];
    assert_eq!(
        store.write_records(&first, RECEIVED, false).await.unwrap(),
        [true, true]
    );

    // The same ids carrying other records (a repeated id), first attempt or retry: refused.
    for retry in [false, true] {
        for batch in [
            vec![rec(1, None, "impostor")],
            vec![rec(2, Some("y"), "impostor")],
            vec![rec(10, None, "innocent"), rec(1, None, "impostor")],
        ] {
            match store.write_records(&batch, RECEIVED, retry).await {
                Err(Error::Internal(why)) => assert!(why.contains("other content"), "{why}"),
                other => panic!("a reused id answered {other:?} (retry: {retry})"),
            }
        }
    }
    // The very same records again (a retry after an unknown outcome): still acknowledged.
    assert_eq!(
        store.write_records(&first, RECEIVED, true).await.unwrap(),
        [true, true]
    );
    // A fresh id with a stored client id is a duplicate, as before.
    let dup = [rec(3, Some("x"), "second")];
    assert_eq!(
        store.write_records(&dup, RECEIVED, false).await.unwrap(),
        [false]
    );

    let db = Database::connect(database.url()).await.unwrap();
    let stored = rows(
        &db,
        "SELECT id, message FROM log_records WHERE id < 3 ORDER BY id",
    )
    .await;
    assert_eq!(
        stored,
        [["1", "first"], ["2", "second"]],
        "nothing overwritten"
    );
    db.close().await.unwrap();
    store.close().await.unwrap();
}

async fn two_processes_lease_distinct_node_ids(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await.unwrap() else {
        eprintln!("skipped: {} backend not enabled", backend.name());
        return;
    };
    let (addr_a, addr_b) = (free_addr().unwrap(), free_addr().unwrap());
    let a = ServiceProcess::spawn(&service_env(database.url(), addr_a, &[]), addr_a).await;
    let b = ServiceProcess::spawn(&service_env(database.url(), addr_b, &[]), addr_b).await;
    let (client_a, client_b) = (client(addr_a).await, client(addr_b).await);
    let key = create_app(&client_a, "replicas").await;

    // Both replicas take records at once, without client ids: only the id tells them apart.
    let send = |mut client: LogServiceClient<Channel>, tag: &'static str| {
        let key = key.clone();
        async move {
            let mut accepted = 0;
            for call in 0..20 {
                let records = (0..50)
                    .map(|i| record(&format!("{tag} {call} {i}"), ""))
                    .collect();
                let answer = client
                    .ingest(with_key(&key, IngestRequest { records }))
                    .await
                    .expect("ingest")
                    .into_inner();
                accepted += answer.accepted;
            }
            accepted
        }
    };
    let (from_a, from_b) = tokio::join!(send(client_a, "a"), send(client_b, "b"));
    assert_eq!((from_a, from_b), (1000, 1000));

    let db = Database::connect(database.url()).await.unwrap();
    assert_eq!(
        count_rows(&db).await,
        2000,
        "every acknowledged record is stored"
    );
    let nodes_of = |prefix: &'static str| {
        let db = &db;
        async move {
            let sql = format!("SELECT id FROM log_records WHERE message LIKE '{prefix} %'");
            let ids = rows(db, &sql).await;
            ids.iter()
                .map(|row| node_of(row[0].parse().unwrap()))
                .collect::<HashSet<u16>>()
        }
    };
    let (nodes_a, nodes_b) = (nodes_of("a").await, nodes_of("b").await);
    assert_eq!(nodes_a.len(), 1, "one node id per replica: {nodes_a:?}");
    assert_eq!(nodes_b.len(), 1, "one node id per replica: {nodes_b:?}");
    assert!(nodes_a.is_disjoint(&nodes_b), "{nodes_a:?} vs {nodes_b:?}");

    // Stopped in order, each frees its node id at once.
    assert!(a.terminate(Duration::from_secs(20)).await);
    assert!(b.terminate(Duration::from_secs(20)).await);
    let leases = rows(&db, "SELECT expires_at_ms FROM node_leases").await;
    assert_eq!(leases.len(), 2, "one lease per replica");
    assert!(leases.iter().all(|l| l[0] == "0"), "released: {leases:?}");
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    a_reused_id_with_other_content_is_never_acknowledged(Backend::Sqlite).await;
    two_processes_lease_distinct_node_ids(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    a_reused_id_with_other_content_is_never_acknowledged(Backend::Postgres).await;
    two_processes_lease_distinct_node_ids(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    a_reused_id_with_other_content_is_never_acknowledged(Backend::Mysql).await;
    two_processes_lease_distinct_node_ids(Backend::Mysql).await;
}
