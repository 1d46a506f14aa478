//! The store's bulk write against each real database: a batch whose client ids partly exist
//! already, or repeat inside it, is answered record by record and stores each record once. On
//! PostgreSQL such a batch first tries COPY, hits the unique index, and is redone with ON
//! CONFLICT; the test asserts that path was taken.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use feedline_test_harness::{Backend, TestDatabase};
use log_ingest_service::record::NewRecord;
use log_ingest_service::store::Store;
use sea_orm::{ConnectionTrait, Database, Statement};

const APP: i64 = 7;
const RECEIVED: i64 = 1_700_000_000_000_000_000;
/// The store's cool-down after a COPY conflict, in batches (`store/copy.rs`).
const COOLDOWN_BATCHES: i64 = 16;

fn rec(id: i64, client_id: Option<&str>) -> NewRecord {
    NewRecord {
        id,
        app_id: APP,
        time_unix_nano: RECEIVED - id,
        level: 3,
        service: "svc".into(),
        message: format!("record {id}"),
        attributes: "{}".into(),
        trace_id: None,
        client_record_id: client_id.map(str::to_owned),
    }
}

/// (id, client id) of every stored row, by id.
async fn stored(url: &str) -> Vec<(i64, Option<String>)> {
    let db = Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, client_record_id FROM log_records ORDER BY id",
        ))
        .await
        .unwrap();
    let rows = rows
        .into_iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    db.close().await.unwrap();
    rows
}

async fn duplicates_are_answered_exactly_and_stored_once(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await.unwrap() else {
        eprintln!("skipped: {} backend not enabled", backend.name());
        return;
    };
    let store = Store::connect(database.url(), 4).await.unwrap();
    let postgres = backend == Backend::Postgres;
    let conflicts = |expected: u64| {
        if postgres {
            assert_eq!(store.copy_conflicts(), expected, "COPY conflicts");
        }
    };

    let first = [rec(1, Some("a")), rec(2, Some("b")), rec(3, None)];
    let answer = store.write_records(&first, RECEIVED, false).await.unwrap();
    assert_eq!(answer, [true, true, true]);
    conflicts(0); // client ids, and still COPY

    // "a" and "b" are stored already, "c" comes twice: the first "c" is the one stored.
    let second = [
        rec(4, Some("a")),
        rec(5, Some("c")),
        rec(6, Some("c")),
        rec(7, None),
        rec(8, Some("b")),
    ];
    let answer = store.write_records(&second, RECEIVED, false).await.unwrap();
    assert_eq!(answer, [false, true, false, true, false]);
    conflicts(1); // COPY rolled back, redone with ON CONFLICT
    // The same batch again as the writer's retry after an unknown outcome: the same answer.
    let again = store.write_records(&second, RECEIVED, true).await.unwrap();
    assert_eq!(again, answer);

    // During the cool-down batches skip COPY, so no new conflict is counted ...
    for i in 0..COOLDOWN_BATCHES {
        let batch = [rec(100 + i, Some("a")), rec(200 + i, None)];
        let answer = store.write_records(&batch, RECEIVED, false).await.unwrap();
        assert_eq!(answer, [false, true]);
    }
    conflicts(1);
    // ... and after it COPY is tried again.
    let late = [rec(300, Some("d")), rec(301, Some("d"))];
    let answer = store.write_records(&late, RECEIVED, false).await.unwrap();
    assert_eq!(answer, [true, false]);
    conflicts(2);

    let mut expected: Vec<(i64, Option<String>)> = vec![
        (1, Some("a".into())),
        (2, Some("b".into())),
        (3, None),
        (5, Some("c".into())),
        (7, None),
    ];
    expected.extend((0..COOLDOWN_BATCHES).map(|i| (200 + i, None)));
    expected.push((300, Some("d".into())));
    assert_eq!(stored(database.url()).await, expected);
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite() {
    duplicates_are_answered_exactly_and_stored_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    duplicates_are_answered_exactly_and_stored_once(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql() {
    duplicates_are_answered_exactly_and_stored_once(Backend::Mysql).await;
}
