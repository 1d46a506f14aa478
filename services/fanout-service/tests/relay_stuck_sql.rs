//! A relay whose SQL call is stuck (PostgreSQL, a lock its ack needs held by another session)
//! gives the call up at the relay's SQL deadline and goes on: events written meanwhile still
//! reach their followers while the lock is held, and once it is released every event is
//! retired exactly once, with none lost or given up on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::{Duration, Instant};

use common::Stack;
use feedline_stack::Service;
use feedline_test_harness::{Backend, eventually};
use post_service::relay::deadline::SQL_TIMEOUT;
use sea_orm::{
    ConnectionTrait as _, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait as _,
};

/// Fan-out is asynchronous: every wait polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(20);

/// One `count(*)`-like figure from post-service's database.
async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_ack_is_given_up_at_its_deadline_and_later_events_still_go_out() {
    if !Backend::Postgres.enabled() {
        // `cargo xtask test` enables it (and in CI fails when the server is missing).
        eprintln!("skipped: postgres backend not enabled");
        return;
    }
    // Admission would refuse writes while the stuck event ages past its bound (as it should);
    // here the writes must go in, to show the relay still sends them.
    let stack = Stack::start_with(|b| {
        b.post_database(Backend::Postgres)
            .env(Service::Post, &[("FEEDLINE_ADMISSION_MAX_LAG_MS", "0")])
    })
    .await;
    let db = Database::connect(stack.post_database_url()).await.unwrap();
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    stack.follow(bob, alice).await;
    let first = stack.post(alice, "first").await.post_id;
    stack.wait_for_timeline(bob, &[first], DEADLINE).await;
    eventually("the outbox drained", DEADLINE, || async {
        let left = count(&db, "SELECT count(*) FROM outbox").await?;
        anyhow::ensure!(left == 0, "{left} rows left");
        Ok(())
    })
    .await
    .unwrap();
    let retained = count(&db, "SELECT count(*) FROM outbox_applied")
        .await
        .unwrap();

    // Retiring an acknowledged event moves it to `outbox_applied` (the retention window is on
    // by default): with that table locked, the relay's next ack waits on the lock.
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE outbox_applied IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let second = stack.post(alice, "second").await.post_id;
    stack
        .wait_for_timeline(bob, &[second, first], DEADLINE)
        .await;
    eventually("the relay's ack waits on the lock", DEADLINE, || async {
        let waiting = count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"outbox_applied\"%'",
        )
        .await?;
        anyhow::ensure!(waiting > 0, "no ack waits on the lock yet");
        Ok(())
    })
    .await
    .unwrap();

    // A relay stuck in that ack would send nothing more until the lock goes. It gives the ack
    // up at its deadline instead, reconnects, and sends the new post (and `second` again).
    let stuck_at = Instant::now();
    let third = stack.post(alice, "third").await.post_id;
    stack
        .wait_for_timeline(bob, &[third, second, first], DEADLINE)
        .await;
    let took = stuck_at.elapsed();
    assert!(
        took < SQL_TIMEOUT + Duration::from_secs(10),
        "the new post took {took:?} with the ack stuck"
    );
    let still_locked = count(
        &db,
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'outbox_applied' AND l.mode = 'AccessExclusiveLock' AND l.granted",
    )
    .await
    .unwrap();
    assert_eq!(still_locked, 1, "delivered while the lock was held");

    // Released: every event is retired once (a row per event in `outbox_applied`, whose key
    // is the event id), none is given up on, and the timeline holds each post once.
    lock.rollback().await.unwrap();
    eventually("every event retired once", DEADLINE, || async {
        let left = count(&db, "SELECT count(*) FROM outbox").await?;
        let applied = count(&db, "SELECT count(*) FROM outbox_applied").await?;
        anyhow::ensure!(
            left == 0 && applied == retained + 2,
            "{left} left, {applied} retained (want {})",
            retained + 2
        );
        Ok(())
    })
    .await
    .unwrap();
    let dead = count(&db, "SELECT count(*) FROM outbox_dead")
        .await
        .unwrap();
    assert_eq!(dead, 0, "no event given up on");
    assert_eq!(stack.timeline(bob).await, [third, second, first]);
    db.close().await.unwrap();
    stack.stop().await;
}
