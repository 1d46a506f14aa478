//! Admission control's measure of the outbox front on SQLite, PostgreSQL and MySQL/MariaDB:
//! every event records its ordering key, and neither a failing event nor the later events of
//! its key (which the relay holds behind it) count as the front; rows without a key (written
//! before the column existed) are never taken for held.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

feedline_test_harness::on_every_backend!(
    events_held_behind_a_failing_one_are_not_the_front,
    every_write_records_its_ordering_key,
    a_front_from_an_id_looks_only_from_there,
);

#[path = "store_server/mod.rs"]
mod common;

mod cases {
    use post_service::entity::outbox;
    use post_service::store::{FollowChange, GiveUp, NewPost, NewUser};
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait as _, QueryOrder as _};

    use crate::common::TestServer;

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    async fn user(s: &TestServer, handle: &str) -> i64 {
        s.store
            .create_user(NewUser {
                handle: handle.into(),
                display_name: handle.into(),
                subject: None,
            })
            .await
            .unwrap()
            .id
    }

    async fn post(s: &TestServer, author_id: i64) {
        s.store
            .create_post(NewPost {
                author_id,
                body: "hello".into(),
                idempotency_key: None,
            })
            .await
            .unwrap();
    }

    /// The outbox rows, in id order.
    async fn rows(s: &TestServer) -> Vec<outbox::Model> {
        outbox::Entity::find()
            .order_by_asc(outbox::Column::Id)
            .all(&s.db)
            .await
            .unwrap()
    }

    /// The id of the front as admission control measures it.
    async fn front(s: &TestServer) -> Option<i64> {
        s.store.outbox_front().await.unwrap().map(|f| f.oldest_id)
    }

    /// A row as written before `ordering_key` existed.
    async fn append_without_key(s: &TestServer) -> i64 {
        let now = now_ms();
        let inserted = outbox::Entity::insert(outbox::ActiveModel {
            id: NotSet,
            kind: Set("deliver_post".into()),
            payload: Set(Vec::new()),
            traceparent: Set(String::new()),
            tracestate: Set(String::new()),
            created_at_ms: Set(now),
            attempts: Set(0),
            available_at_ms: Set(now),
            claimed_until_ms: Set(None),
            ordering_key: Set(None),
        })
        .exec(&s.db)
        .await
        .unwrap();
        inserted.last_insert_id
    }

    /// Counts a failed attempt for `id`, backing off for a minute.
    async fn fail(s: &TestServer, id: i64) {
        s.store
            .retry_outbox(&[(id, now_ms() + 60_000)])
            .await
            .unwrap();
    }

    pub async fn every_write_records_its_ordering_key(s: &TestServer) {
        let alice = user(s, "alice").await;
        let bob = user(s, "bob").await;
        post(s, alice).await;
        let follow = FollowChange {
            follower_id: alice,
            followee_id: bob,
        };
        assert!(s.store.follow(follow).await.unwrap());
        assert!(s.store.unfollow(follow).await.unwrap());
        let written: Vec<(String, Option<i64>)> = rows(s)
            .await
            .into_iter()
            .map(|row| (row.kind, row.ordering_key))
            .collect();
        assert_eq!(
            written,
            [
                ("deliver_post".to_owned(), Some(alice)),
                ("add_follow".to_owned(), Some(bob)),
                ("remove_follow".to_owned(), Some(bob)),
            ],
            "a post is keyed by its author, a follow by its followee"
        );
    }

    pub async fn events_held_behind_a_failing_one_are_not_the_front(s: &TestServer) {
        let alice = user(s, "alice").await;
        let bob = user(s, "bob").await;
        post(s, alice).await;
        post(s, bob).await;
        post(s, alice).await;
        let ids: Vec<i64> = rows(s).await.iter().map(|row| row.id).collect();
        let [alice_first, bob_first, alice_later] = ids[..] else {
            panic!("three rows: {ids:?}");
        };
        assert_eq!(front(s).await, Some(alice_first));

        // Alice's first event fails: neither it nor her later one is the front, Bob's is.
        fail(s, alice_first).await;
        assert_eq!(front(s).await, Some(bob_first));
        s.store.complete_outbox(&[bob_first], false).await.unwrap();
        assert_eq!(front(s).await, None, "only Alice's held event waits");

        // A row without a key is never held, and a failing one holds nothing.
        let unkeyed = append_without_key(s).await;
        let front_now = s.store.outbox_front().await.unwrap().unwrap();
        assert_eq!(front_now.oldest_id, unkeyed);
        assert_eq!(front_now.backlog, 1);
        fail(s, unkeyed).await;
        assert_eq!(front(s).await, None);
        let unkeyed_later = append_without_key(s).await;
        assert_eq!(
            front(s).await,
            Some(unkeyed_later),
            "a failing row without a key holds no other row"
        );
        s.store
            .complete_outbox(&[unkeyed, unkeyed_later], false)
            .await
            .unwrap();

        // Once Alice's failing event is a dead letter, her later one is the front again.
        s.store
            .bury_outbox(&[GiveUp {
                id: alice_first,
                attempts: 1,
                error: "WRONGTYPE".into(),
            }])
            .await
            .unwrap();
        assert_eq!(front(s).await, Some(alice_later));
        s.store
            .complete_outbox(&[alice_later], false)
            .await
            .unwrap();

        // Requeued, it keeps its key: failing again, it holds Alice's later events again.
        assert_eq!(s.store.requeue_dead(&[alice_first]).await.unwrap(), 1);
        let requeued = rows(s).await;
        assert_eq!(requeued.len(), 1, "{requeued:?}");
        assert_eq!(requeued[0].ordering_key, Some(alice));
        fail(s, requeued[0].id).await;
        post(s, alice).await;
        post(s, bob).await;
        let bob_next = rows(s).await.last().unwrap().id;
        assert_eq!(front(s).await, Some(bob_next));
    }

    pub async fn a_front_from_an_id_looks_only_from_there(s: &TestServer) {
        let alice = user(s, "alice").await;
        for _ in 0..3 {
            post(s, alice).await;
        }
        let ids: Vec<i64> = rows(s).await.iter().map(|row| row.id).collect();
        let [first, second, third] = ids[..] else {
            panic!("three rows: {ids:?}");
        };
        let from = |id| async move {
            let front = s.store.outbox_front_from(id).await.unwrap();
            front.map(|f| (f.oldest_id, f.backlog))
        };
        assert_eq!(from(None).await, Some((first, 3)), "the whole outbox");
        assert_eq!(
            from(Some(first)).await,
            Some((first, 3)),
            "from is inclusive"
        );
        assert_eq!(from(Some(second)).await, Some((second, 2)));
        assert_eq!(from(Some(third + 1)).await, None, "nothing from there on");
        assert_eq!(
            s.store.outbox_front().await.unwrap().map(|f| f.oldest_id),
            Some(first),
            "a row below the floor is found from the start"
        );
    }
}
