//! Group commit against a real SQLite file (savepoints and COMMIT are SQLite's behaviour, not
//! ours to fake). Grouping is made certain, not likely: the test holds the write gate while it
//! queues its calls, so the writer can only take them all at once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use feedline_test_harness::{Backend, TestDatabase};
use sea_orm::{ConnectionTrait as _, EntityTrait as _, PaginatorTrait as _};

use super::GroupCommit;
use crate::entity::{follow, outbox, post};
use crate::error::{Error, Result};
use crate::store::{FollowChange, NewPost, NewUser, Store};

/// A write call in flight, answered with whether it created something.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<bool>> + Send + 'a>>;

async fn sqlite_store() -> (Store, TestDatabase) {
    let database = TestDatabase::create(Backend::Sqlite)
        .await
        .expect("test database")
        .expect("SQLite is always enabled");
    let store = Store::connect(database.url(), 4, 0).await.expect("store");
    (store, database)
}

async fn user(store: &Store, handle: &str) -> i64 {
    store
        .create_user(NewUser {
            handle: handle.into(),
            display_name: handle.into(),
            subject: None,
        })
        .await
        .expect("create user")
        .id
}

/// Polls `call` once, which is as far as it goes before its answer (a write call queues before
/// its first await); its answer if it has one already (a refusal).
async fn poll_once(call: &mut Pending<'_>) -> Option<Result<bool>> {
    std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(answer) => Poll::Ready(Some(answer)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Queues `call`: it must not be answered while the test holds the write gate.
async fn queue(call: &mut Pending<'_>) {
    let answer = poll_once(call).await;
    assert!(
        answer.is_none(),
        "answered while the gate was held: {answer:?}"
    );
}

fn change(follower_id: i64, followee_id: i64) -> FollowChange {
    FollowChange {
        follower_id,
        followee_id,
    }
}

fn committed(store: &Store) -> (u64, u64) {
    store.group.as_ref().expect("SQLite groups").committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_group_answers_each_call_and_rolls_back_only_the_failed_ones() {
    let (store, _database) = sqlite_store().await;
    let (a, b, c) = (
        user(&store, "ann").await,
        user(&store, "bob").await,
        user(&store, "cid").await,
    );
    let unknown = a.max(b).max(c) + 1000;
    let before = committed(&store);

    let gate = store.write_gate().await;
    let new_post = |author_id| NewPost {
        author_id,
        body: "hello".into(),
        idempotency_key: None,
    };
    let mut calls: Vec<(&str, Pending<'_>)> = vec![
        ("follow a->b", Box::pin(store.follow(change(a, b)))),
        ("follow a->b again", Box::pin(store.follow(change(a, b)))),
        (
            "follow a->unknown",
            Box::pin(store.follow(change(a, unknown))),
        ),
        (
            "follow unknown->b",
            Box::pin(store.follow(change(unknown, b))),
        ),
        ("follow c->a", Box::pin(store.follow(change(c, a)))),
        ("unfollow b->c", Box::pin(store.unfollow(change(b, c)))),
        (
            "post by unknown",
            Box::pin(async {
                store
                    .create_post(new_post(unknown))
                    .await
                    .map(|w| w.created)
            }),
        ),
        (
            "post by a",
            Box::pin(async { store.create_post(new_post(a)).await.map(|w| w.created) }),
        ),
        (
            "taken handle",
            Box::pin(async {
                let new = NewUser {
                    handle: "ann".into(),
                    display_name: "another ann".into(),
                    subject: None,
                };
                store.create_user(new).await.map(|_| true)
            }),
        ),
        ("delete unknown post", Box::pin(store.delete_post(1, a))),
    ];
    for (_, call) in &mut calls {
        queue(call).await;
    }
    drop(gate);
    let mut answers = Vec::new();
    for (name, call) in calls {
        answers.push((name, call.await));
    }

    assert_eq!(
        committed(&store),
        (before.0 + 1, before.1 + answers.len() as u64),
        "every call in one transaction"
    );
    let created = |name: &str| match &answers.iter().find(|(n, _)| *n == name).unwrap().1 {
        Ok(created) => *created,
        Err(e) => panic!("{name}: {e}"),
    };
    let failed = |name: &str| match &answers.iter().find(|(n, _)| *n == name).unwrap().1 {
        Ok(created) => panic!("{name} answered Ok({created})"),
        Err(e) => e.clone(),
    };
    assert!(
        created("follow a->b") != created("follow a->b again"),
        "one of the two identical follows creates the edge, the other finds it"
    );
    assert!(created("follow c->a"));
    assert!(!created("unfollow b->c"), "no such edge");
    assert!(created("post by a"));
    for name in ["follow a->unknown", "follow unknown->b", "post by unknown"] {
        assert!(
            matches!(failed(name), Error::InvalidArgument(_)),
            "{name}: {:?}",
            failed(name)
        );
    }
    assert!(matches!(failed("taken handle"), Error::AlreadyExists(_)));
    assert!(matches!(failed("delete unknown post"), Error::NotFound(_)));

    // The good calls are committed with one outbox row each; the failed ones left nothing.
    assert_eq!(follow::Entity::find().count(&store.db).await.unwrap(), 2);
    assert_eq!(post::Entity::find().count(&store.db).await.unwrap(), 1);
    let kinds: Vec<String> = outbox::Entity::find()
        .all(&store.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.kind)
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "add_follow").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "deliver_post").count(), 1);
    let ann = store.get_user(a).await.unwrap();
    assert_eq!((ann.follower_count, ann.following_count), (1, 1));
    let bob = store.get_user(b).await.unwrap();
    assert_eq!((bob.follower_count, bob.following_count), (1, 0));
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_fails_after_writing_leaves_nothing_and_its_group_commits_the_rest() {
    let (store, _database) = sqlite_store().await;
    let (a, b, c) = (
        user(&store, "ann").await,
        user(&store, "bob").await,
        user(&store, "cid").await,
    );
    let group = store.group.as_ref().unwrap();
    let before = committed(&store);

    let gate = store.write_gate().await;
    let mut first: Pending<'_> = Box::pin(store.follow(change(a, b)));
    // Writes an edge c->a, then fails: run first without savepoints, its row is mixed with the
    // others' until the group runs again with one savepoint per call.
    let mut half: Pending<'_> = Box::pin(group.submit(move |txn| {
        Box::pin(async move {
            txn.execute_unprepared(&format!(
                "INSERT INTO follows (followee_id, follower_id, created_at_ms) \
                 VALUES ({a}, {c}, 0)"
            ))
            .await?;
            Err::<bool, _>(Error::Internal("fails after its write".into()))
        })
    }));
    let mut last: Pending<'_> = Box::pin(store.follow(change(b, c)));
    queue(&mut first).await;
    queue(&mut half).await;
    queue(&mut last).await;
    drop(gate);
    let (first, half, last) = (first.await, half.await, last.await);
    assert!(first.unwrap());
    assert!(matches!(half, Err(Error::Internal(_))), "{half:?}");
    assert!(last.unwrap());
    assert_eq!(committed(&store), (before.0 + 1, before.1 + 3), "one group");
    let edges: Vec<(i64, i64)> = follow::Entity::find()
        .all(&store.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.follower_id, row.followee_id))
        .collect();
    assert_eq!(edges.len(), 2, "{edges:?}");
    assert!(
        !edges.contains(&(c, a)),
        "the failed call's row is gone: {edges:?}"
    );
    assert_eq!(outbox::Entity::find().count(&store.db).await.unwrap(), 2);
    // Each good call ran twice (once rolled back) and counted once.
    let bob = store.get_user(b).await.unwrap();
    assert_eq!((bob.follower_count, bob.following_count), (1, 1));
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_call_of_its_group_and_the_next_group_commits() {
    let (store, _database) = sqlite_store().await;
    let (a, b) = (user(&store, "ann").await, user(&store, "bob").await);
    let group = store.group.as_ref().unwrap();

    let gate = store.write_gate().await;
    let mut good: Pending<'_> = Box::pin(store.follow(change(a, b)));
    // A foreign key checked only at COMMIT, violated: the COMMIT fails.
    let mut poison: Pending<'_> = Box::pin(group.submit(|txn| {
        Box::pin(async move {
            txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
                .await?;
            txn.execute_unprepared(
                "INSERT INTO follows (followee_id, follower_id, created_at_ms) \
                 VALUES (999999, 999998, 0)",
            )
            .await?;
            Ok(true)
        })
    }));
    queue(&mut good).await;
    queue(&mut poison).await;
    drop(gate);
    let (good, poison) = (good.await, poison.await);
    assert!(matches!(good, Err(Error::Internal(_))), "{good:?}");
    assert!(matches!(poison, Err(Error::Internal(_))), "{poison:?}");
    assert_eq!(follow::Entity::find().count(&store.db).await.unwrap(), 0);
    assert_eq!(outbox::Entity::find().count(&store.db).await.unwrap(), 0);

    // The failed transaction is gone: the same call in a later group commits.
    assert!(store.follow(change(a, b)).await.unwrap());
    assert_eq!(outbox::Entity::find().count(&store.db).await.unwrap(), 1);
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once_and_what_was_queued_commits() {
    let (store, _database) = sqlite_store().await;
    const ROOM: usize = 2;
    let group = GroupCommit::start(
        store.db.clone(),
        store.write_gate.clone().unwrap(),
        store.outbox_signal(),
        ROOM,
    );
    fn call(group: &GroupCommit) -> Pending<'_> {
        Box::pin(group.submit(|txn| {
            Box::pin(async move {
                txn.execute_unprepared("SELECT 1").await?;
                Ok(true)
            })
        }))
    }

    let gate = store.write_gate().await;
    // The writer holds at most one call while it waits for the gate, and ROOM more fit the
    // queue: of ROOM + 2 calls, the last is refused whatever the writer has taken yet.
    let mut calls: Vec<Pending<'_>> = (0..ROOM + 2).map(|_| call(&group)).collect();
    let mut answered = Vec::new();
    for call in &mut calls {
        answered.push(poll_once(call).await);
    }
    assert!(
        matches!(answered[ROOM + 1], Some(Err(Error::QueueFull { .. }))),
        "{answered:?}"
    );
    assert!(answered[..ROOM].iter().all(Option::is_none), "{answered:?}");
    drop(gate);
    for (call, answer) in calls.into_iter().zip(answered) {
        match answer {
            // Queued: committed once the gate opened.
            None => assert!(call.await.unwrap()),
            // Refused at once; only the one that could not fit whatever the writer had taken
            // (checked above), or the one before it if the writer had not taken the first yet.
            Some(refused) => assert!(matches!(refused, Err(Error::QueueFull { .. }))),
        }
    }
    group.close().await;
    assert!(
        matches!(call(&group).await, Err(Error::Unavailable(_))),
        "a closed writer takes nothing more"
    );
    store.close().await.unwrap();
}
