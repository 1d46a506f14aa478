//! PostgreSQL, where concurrent writers commit out of id order: a Follow that commits late,
//! after a post its followee created meanwhile was fanned out, is still sent by the relay in
//! the same session (its row is below the relay's cursor), and its backfill brings that post.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use common::Stack;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{AddFollow, FanoutEvent};
use feedline_test_harness::{Backend, eventually};
use prost::Message as _;
use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement, TransactionTrait as _};

/// Fan-out is asynchronous: every assertion polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_that_commits_late_is_sent_and_backfills_the_post_it_missed() {
    if !Backend::Postgres.enabled() {
        // `cargo xtask test` enables it (and in CI fails when the server is missing).
        eprintln!("skipped: postgres backend not enabled");
        return;
    }
    let stack = Stack::start_with(|b| b.post_database(Backend::Postgres)).await;
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let carol = stack.user("carol").await;
    stack.follow(bob, alice).await;
    let first = stack.post(alice, "first").await.post_id;
    stack.wait_for_timeline(bob, &[first], DEADLINE).await;

    // A writer that takes its outbox id and commits late: carol's follow of alice, written
    // the way post-service writes it, in a transaction held open meanwhile.
    let db = Database::connect(stack.post_database_url()).await.unwrap();
    let late = db.begin().await.unwrap();
    let payload = FanoutEvent {
        kind: Some(Kind::AddFollow(AddFollow {
            follower_id: carol,
            followee_id: alice,
        })),
        ..FanoutEvent::default()
    }
    .encode_to_vec();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let row = late
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO outbox (kind, payload, traceparent, tracestate, created_at_ms, \
             attempts, available_at_ms) VALUES ('add_follow', $1, '', '', $2, 0, $2) \
             RETURNING id",
            [payload.into(), now_ms.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let late_id: i64 = row.try_get("", "id").unwrap();

    // A later row commits and is applied: the relay's cursor is now past `late_id`.
    let second = stack.post(alice, "second").await.post_id;
    stack
        .wait_for_timeline(bob, &[second, first], DEADLINE)
        .await;
    late.commit().await.unwrap();

    // The late row is sent and applied without a new relay session, and carol's follow
    // backfills both posts: `second` was created after the follow's row but delivered before
    // carol was indexed. The row is acknowledged (deleted; a rejected one would be parked).
    stack
        .wait_for_timeline(carol, &[second, first], DEADLINE)
        .await;
    let what = format!("outbox row {late_id} acknowledged");
    eventually(&what, DEADLINE, || async {
        let left = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM outbox WHERE id = $1",
                [late_id.into()],
            ))
            .await?
            .context("no count")?;
        anyhow::ensure!(left.try_get::<i64>("", "n")? == 0, "still there");
        Ok(())
    })
    .await
    .unwrap();
    db.close().await.unwrap();
    stack.stop().await;
}
