//! Poison events end in `outbox_dead` and block nobody: one author's retraction that fanout-service
//! answers RETRY forever (its `ar:` key holds a string, so Redis answers WRONGTYPE) backs off
//! while every other author's posts keep being admitted (admission control on: the poisoned
//! author's held events do not count as fan-out lag) and arriving; after `FEEDLINE_RELAY_MAX_ATTEMPTS` it is a
//! dead letter, the author's later post arrives, `ListDeadLetters` shows it, and once the key
//! is fixed `RequeueDeadLetters` applies it. An outbox row whose payload does not decode goes
//! there at once. Real post-service, fanout-service and Redis Cluster, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Stack;
use feedline_proto::post::v1::{
    CreatePostRequest, DeadLetter, ListDeadLettersRequest, RequeueDeadLettersRequest,
};
use feedline_stack::Service;
use feedline_test_harness::{Backend, eventually};
use fred::prelude::KeysInterface as _;
use post_service::entity::outbox;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, Database, EntityTrait as _};

/// Fan-out is asynchronous: every wait polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(30);
/// How late another author's post may arrive while the poison event retries.
const OTHERS_BOUND: Duration = Duration::from_secs(2);
/// Attempts before a dead letter: with the jittered backoff (100 ms doubling, halved at most)
/// the poison retries for 3 s or more, long enough to watch others go by.
const MAX_ATTEMPTS: &str = "8";
/// Admission control's bound on fan-out lag: far below the poison's 3 s of retries, so writes
/// would be refused meanwhile if the poisoned author's held events counted as lag.
/// Above what a busy CI machine's fan-out lags by itself (a 500 ms bound was seen refusing
/// there), far below how old the held post gets.
const ADMISSION_MAX_LAG: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_without_blocking_others_on_sqlite() {
    poison_event_is_dead_lettered(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_without_blocking_others_on_postgres() {
    poison_event_is_dead_lettered(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_without_blocking_others_on_mysql() {
    poison_event_is_dead_lettered(Backend::Mysql).await;
}

async fn poison_event_is_dead_lettered(backend: Backend) {
    if !backend.enabled() {
        eprintln!("skipped: {backend:?} backend not enabled");
        return;
    }
    let stack = Stack::start_with(|b| {
        b.post_database(backend).env(
            Service::Post,
            &[
                ("FEEDLINE_RELAY_MAX_ATTEMPTS", MAX_ATTEMPTS),
                ("FEEDLINE_RELAY_POLL_MS", "50"),
                (
                    "FEEDLINE_ADMISSION_MAX_LAG_MS",
                    &ADMISSION_MAX_LAG.as_millis().to_string(),
                ),
            ],
        )
    })
    .await;
    let poisoned = stack.user("poisoned").await;
    let other = stack.user("other").await;
    let reader = stack.user("reader").await;
    stack.follow(reader, poisoned).await;
    stack.follow(reader, other).await;
    let first = stack.post(poisoned, "first").await;
    stack
        .wait_for_timeline(reader, &[first.post_id], DEADLINE)
        .await;

    // The poison: the author's list of retracted posts holds a string, so the retraction's
    // ZADD fails with WRONGTYPE on every try, a failure fanout-service takes for a transient one.
    let retracted = format!("ar:{{{poisoned}}}");
    let () = stack
        .redis
        .set(&retracted, "not a sorted set", None, None, false)
        .await
        .unwrap();
    stack.delete(&first).await;
    let later = stack.post(poisoned, "later").await;
    let later_at = Instant::now();
    let db = Database::connect(stack.post_database_url()).await.unwrap();
    eventually("the retraction failed once", DEADLINE, || async {
        let rows = outbox::Entity::find().all(&db).await?;
        anyhow::ensure!(
            rows.iter()
                .any(|row| row.kind == "retract_post" && row.attempts >= 1),
            "outbox: {rows:?}"
        );
        Ok(())
    })
    .await
    .unwrap();

    // Meanwhile another author's posts are admitted and arrive within the bound, each, while
    // the poisoned author's later post waits behind its failing retraction: for at least three
    // two and a half times admission's bound, so that counting the held post as lag would
    // refuse them.
    let mut expected = vec![first.post_id];
    let mut i = 0;
    while i < 3 || later_at.elapsed() < ADMISSION_MAX_LAG * 5 / 2 {
        let created = stack
            .posts
            .clone()
            .create_post(CreatePostRequest {
                author_id: other,
                body: format!("other {i}"),
                idempotency_key: String::new(),
            })
            .await;
        let post = match created {
            Ok(response) => response.into_inner().post.unwrap().post_id,
            Err(status) => panic!(
                "another author's post {i}, {:?} after the poisoned author's held one, \
                 was refused ({:?}): {status:?}",
                later_at.elapsed(),
                status.code()
            ),
        };
        let start = Instant::now();
        eventually("another author's post arrives", OTHERS_BOUND, || async {
            let timeline = stack.timeline(reader).await;
            anyhow::ensure!(timeline.contains(&post), "timeline: {timeline:?}");
            Ok(())
        })
        .await
        .unwrap();
        eprintln!("another author's post {i} arrived in {:?}", start.elapsed());
        expected.insert(0, post);
        i += 1;
    }
    assert!(
        !stack.timeline(reader).await.contains(&later.post_id),
        "the poisoned author's later post must wait behind its failing retraction"
    );
    assert!(
        dead_letters(&stack).await.is_empty(),
        "the retraction was still retrying while the others went by"
    );

    // Given up on after MAX_ATTEMPTS: a dead letter with its error; the later post goes on.
    let letter = eventually("the retraction is a dead letter", DEADLINE, || async {
        let letters = dead_letters(&stack).await;
        anyhow::ensure!(letters.len() == 1, "dead letters: {letters:?}");
        Ok(letters[0].clone())
    })
    .await
    .unwrap();
    assert_eq!(letter.kind, "retract_post");
    assert_eq!(letter.attempts.to_string(), MAX_ATTEMPTS);
    assert!(letter.error.contains("WRONGTYPE"), "{}", letter.error);
    eventually(
        "the poisoned author's later post arrives",
        DEADLINE,
        || async {
            let timeline = stack.timeline(reader).await;
            anyhow::ensure!(timeline.contains(&later.post_id), "timeline: {timeline:?}");
            Ok(())
        },
    )
    .await
    .unwrap();
    assert!(
        stack.timeline(reader).await.contains(&first.post_id),
        "the dead retraction was never applied"
    );

    // Requeue: refused for an unknown id and for no ids; then, with the key fixed, it applies.
    let mut posts = stack.posts.clone();
    let unknown = posts
        .requeue_dead_letters(RequeueDeadLettersRequest {
            event_ids: vec![letter.event_id + 1_000_000],
            all: false,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    let empty = posts
        .requeue_dead_letters(RequeueDeadLettersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument, "{empty:?}");
    let () = stack.redis.del(&retracted).await.unwrap();
    let requeued = posts
        .requeue_dead_letters(RequeueDeadLettersRequest {
            event_ids: vec![letter.event_id],
            all: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(requeued.requeued, 1);
    assert!(dead_letters(&stack).await.is_empty());
    eventually("the requeued retraction applies", DEADLINE, || async {
        let timeline = stack.timeline(reader).await;
        anyhow::ensure!(
            !timeline.contains(&first.post_id) && timeline.contains(&later.post_id),
            "timeline: {timeline:?}"
        );
        Ok(())
    })
    .await
    .unwrap();

    // A row whose payload does not decode is a dead letter at once, and blocks nothing.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    outbox::Entity::insert(outbox::ActiveModel {
        id: NotSet,
        kind: Set("deliver_post".into()),
        payload: Set(vec![0xff, 0xff, 0xff]),
        traceparent: Set(String::new()),
        tracestate: Set(String::new()),
        created_at_ms: Set(now_ms),
        attempts: Set(0),
        available_at_ms: Set(now_ms),
        claimed_until_ms: Set(None),
        ordering_key: Set(None),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();
    // Not refused: the poisoned author's events released by the dead letter wait from the
    // release on, not since their commit (a refusal here once said "8775 ms behind").
    let last = stack.post(other, "after the unreadable row").await.post_id;
    let unreadable = eventually("the unreadable row is a dead letter", DEADLINE, || async {
        let letters = dead_letters(&stack).await;
        anyhow::ensure!(letters.len() == 1, "dead letters: {letters:?}");
        Ok(letters[0].clone())
    })
    .await
    .unwrap();
    assert_eq!(unreadable.attempts, 1);
    assert!(
        unreadable.error.contains("does not decode"),
        "{}",
        unreadable.error
    );
    eventually(
        "a post after the unreadable row arrives",
        DEADLINE,
        || async {
            let timeline = stack.timeline(reader).await;
            anyhow::ensure!(timeline.contains(&last), "timeline: {timeline:?}");
            Ok(())
        },
    )
    .await
    .unwrap();
    // The last post's row is retired once its ack is recorded, just after it is applied.
    eventually("nothing is left waiting", DEADLINE, || async {
        let rows = outbox::Entity::find().all(&db).await?;
        anyhow::ensure!(rows.is_empty(), "outbox: {rows:?}");
        Ok(())
    })
    .await
    .unwrap();
    db.close().await.unwrap();
    stack.stop().await;
}

/// Every dead letter, through the admin RPC (authentication is off: every caller is trusted).
async fn dead_letters(stack: &Stack) -> Vec<DeadLetter> {
    let mut posts = stack.posts.clone();
    let mut letters = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = posts
            .list_dead_letters(ListDeadLettersRequest {
                page_size: 1,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        letters.extend(page.dead_letters);
        if page.next_page_token.is_empty() {
            return letters;
        }
        page_token = page.next_page_token;
    }
}
