//! The retained outbox window on SQLite, PostgreSQL and MySQL/MariaDB: acknowledged events move
//! to `outbox_applied` (never claimed again), replays page through them in id order, and
//! pruning deletes what is older than the window in bounded chunks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

feedline_test_harness::on_every_backend!(
    acknowledged_events_are_retained_and_never_claimed_again,
    without_retention_an_ack_deletes,
    pruning_drops_only_what_is_older_than_the_window,
);

#[path = "store_server/mod.rs"]
mod common;

mod cases {
    use post_service::entity::outbox;
    use post_service::relay::prune::prune;
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait as _};

    use crate::common::TestServer;

    const LEASE_MS: i64 = 10_000;

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    /// Appends `n` events and returns their ids, in order.
    async fn append(s: &TestServer, n: usize) -> Vec<i64> {
        for i in 0..n {
            outbox::Entity::insert(outbox::ActiveModel {
                id: NotSet,
                kind: Set("deliver_post".into()),
                payload: Set(vec![i as u8]),
                traceparent: Set(String::new()),
                tracestate: Set(String::new()),
                created_at_ms: Set(now_ms()),
                attempts: Set(0),
                available_at_ms: Set(now_ms()),
                claimed_until_ms: Set(None),
                ordering_key: Set(None),
            })
            .exec_without_returning(&s.db)
            .await
            .unwrap();
        }
        let rows = s.store.claim_outbox(None, 10_000, LEASE_MS).await.unwrap();
        s.store
            .release_outbox(&rows.iter().map(|r| r.id).collect::<Vec<_>>(), false)
            .await
            .unwrap();
        rows.into_iter().map(|r| r.id).collect()
    }

    pub async fn acknowledged_events_are_retained_and_never_claimed_again(s: &TestServer) {
        let ids = append(s, 5).await;
        assert_eq!(ids.len(), 5);
        s.store.complete_outbox(&ids[..3], true).await.unwrap();
        assert_eq!(s.store.outbox_backlog().await.unwrap(), 2);
        assert_eq!(s.store.applied_count().await.unwrap(), 3);
        let claimed: Vec<i64> = s
            .store
            .claim_outbox(None, 100, LEASE_MS)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(claimed, ids[3..], "applied events are never claimed again");
        let front = s.store.outbox_front().await.unwrap().unwrap();
        assert_eq!(front.oldest_id, ids[3], "the backlog starts after them");

        let page = s.store.applied_page(0, 0, 2).await.unwrap();
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), ids[..2]);
        assert_eq!(page[1].payload, vec![1u8], "the payload is kept as written");
        let rest = s.store.applied_page(page[1].id, 0, 10).await.unwrap();
        assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), ids[2..3]);
        let later = s
            .store
            .applied_page(0, now_ms() + 60_000, 10)
            .await
            .unwrap();
        assert!(later.is_empty(), "`since` filters on the time applied");
    }

    pub async fn without_retention_an_ack_deletes(s: &TestServer) {
        let ids = append(s, 3).await;
        s.store.complete_outbox(&ids, false).await.unwrap();
        assert_eq!(s.store.outbox_backlog().await.unwrap(), 0);
        assert_eq!(s.store.applied_count().await.unwrap(), 0);
    }

    pub async fn pruning_drops_only_what_is_older_than_the_window(s: &TestServer) {
        let ids = append(s, 2500).await;
        s.store.complete_outbox(&ids[..2400], true).await.unwrap();
        let cutoff = now_ms() + 1;
        assert_eq!(s.store.prune_applied(cutoff, 1000).await.unwrap(), 1000);
        assert_eq!(s.store.applied_count().await.unwrap(), 1400);
        assert_eq!(prune(&s.store, 0).await.unwrap(), 0, "nothing is that old");
        assert_eq!(prune(&s.store, cutoff).await.unwrap(), 1400, "in chunks");
        assert_eq!(s.store.applied_count().await.unwrap(), 0);
        assert_eq!(
            s.store.outbox_backlog().await.unwrap(),
            100,
            "pending rows stay"
        );
    }
}
