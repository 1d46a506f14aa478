//! Ids that never repeat, on SQLite, PostgreSQL and MySQL/MariaDB: two replicas lease distinct
//! node ids and their ids never collide; a clock stepped back, while running or across a
//! restart on the same node id, neither repeats an id nor goes back; a lost lease stops the
//! ids until the node id is leased again. The leases are real rows in `node_leases` (created by
//! post-service's migrations); only the clock is simulated.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

feedline_test_harness::on_every_backend!(
    two_replicas_lease_distinct_node_ids_and_never_collide,
    a_clock_step_back_never_repeats_nor_goes_back,
    a_lost_lease_stops_ids_until_leased_again,
    a_pinned_node_id_held_by_a_live_replica_fails_the_start,
);

mod common {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use feedline_service_kit::ids::{Clock, IdGenerator, LeaseSettings, NodeLease, now_ms};
    use feedline_stack::{Service, Services, Stack};
    use feedline_test_harness::{Backend, TestDatabase};
    use post_service::migration::Migrator;
    use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
    use sea_orm_migration::MigratorTrait as _;

    /// The wall clock set back by an amount the test changes.
    #[derive(Debug, Default)]
    pub struct SteppedClock {
        back_ms: AtomicI64,
    }

    impl SteppedClock {
        /// Sets the clock `millis` behind the wall clock.
        pub fn step_back(&self, millis: i64) {
            self.back_ms.store(millis, Ordering::SeqCst);
        }
    }

    impl Clock for SteppedClock {
        fn now_ms(&self) -> i64 {
            now_ms() - self.back_ms.load(Ordering::SeqCst)
        }
    }

    /// A migrated database (the `node_leases` table) and a connection to inspect it.
    pub struct TestServer {
        pub db: DatabaseConnection,
        pub database: TestDatabase,
    }

    impl TestServer {
        pub async fn start(backend: Backend) -> Option<Self> {
            let database = TestDatabase::create(backend).await.expect("database")?;
            let db = Database::connect(database.url()).await.expect("connect");
            Migrator::up(&db, None).await.expect("migrations");
            Some(Self { db, database })
        }

        pub async fn stop(self) {
            let _ = self.db.close().await;
        }

        /// A replica's generator on `clock`, and its lease.
        pub async fn replica(
            &self,
            settings: &LeaseSettings,
            clock: Arc<SteppedClock>,
        ) -> (Arc<IdGenerator>, NodeLease) {
            let ids = Arc::new(IdGenerator::with_clock(clock));
            let lease = NodeLease::start(self.database.url(), settings, ids.clone())
                .await
                .expect("lease");
            (ids, lease)
        }

        /// Runs post-service (the stack's, alone) on this database with `FEEDLINE_NODE_ID` =
        /// `node_id`, once SERVING; the error of a start that failed.
        pub async fn server(&self, node_id: &str) -> anyhow::Result<Services> {
            Stack::builder()
                .database_url(Service::Post, self.database.url())
                .env(Service::Post, &[("FEEDLINE_NODE_ID", node_id)])
                .start_only(&[Service::Post])
                .await
        }

        /// Runs one statement on the lease table, as another party would.
        pub async fn execute(&self, sql: &str) {
            let backend = self.db.get_database_backend();
            self.db
                .execute_raw(Statement::from_string(backend, sql))
                .await
                .expect(sql);
        }
    }

    /// Short leases, so that renewal and loss happen within a test.
    pub fn short(pinned: Option<u16>) -> LeaseSettings {
        LeaseSettings {
            pinned,
            ttl: Duration::from_millis(600),
            max_clock_wait: Duration::from_secs(5),
        }
    }
}

mod cases {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    use feedline_service_kit::ids::{IdError, IdGenerator, LeaseError, NodeLease, node_of};
    use feedline_test_harness::eventually;

    use sea_orm::{ConnectionTrait, Statement};

    use crate::common::{SteppedClock, TestServer, short};

    /// `n` ids, each larger than the one before.
    fn draw(ids: &IdGenerator, n: usize) -> Vec<i64> {
        let drawn: Vec<i64> = (0..n).map(|_| ids.next().expect("an id").0).collect();
        assert!(drawn.windows(2).all(|w| w[0] < w[1]), "ids increase");
        drawn
    }

    pub async fn two_replicas_lease_distinct_node_ids_and_never_collide(s: &TestServer) {
        let clock = Arc::new(SteppedClock::default());
        // Both race for the lowest free node id at once: one wins it, the other takes the next.
        let settings = short(None);
        let ((a, lease_a), (b, lease_b)) = tokio::join!(
            s.replica(&settings, clock.clone()),
            s.replica(&settings, clock.clone()),
        );
        let nodes: HashSet<u16> = [a.node_id().unwrap(), b.node_id().unwrap()].into();
        assert_eq!(nodes, HashSet::from([0, 1]), "distinct, lowest first");

        let (from_a, from_b) =
            tokio::join!(async { draw(&a, 20_000) }, async { draw(&b, 20_000) },);
        assert!(from_a.iter().all(|id| node_of(*id) == a.node_id().unwrap()));
        let all: HashSet<i64> = from_a.iter().chain(&from_b).copied().collect();
        assert_eq!(all.len(), 40_000, "no id of one replica is the other's");

        // A third replica while both live: neither of their node ids.
        let (c, lease_c) = s.replica(&settings, clock).await;
        assert_eq!(c.node_id(), Some(2));
        for lease in [lease_a, lease_b, lease_c] {
            lease.release().await;
        }
    }

    pub async fn a_clock_step_back_never_repeats_nor_goes_back(s: &TestServer) {
        let clock = Arc::new(SteppedClock::default());
        let (a, lease_a) = s.replica(&short(Some(0)), clock.clone()).await;
        let mut before = draw(&a, 5_000);
        // The clock steps back by 2 s while running: ids keep increasing past the last one.
        clock.step_back(2_000);
        let after = draw(&a, 5_000);
        assert!(
            after[0] > *before.last().unwrap(),
            "never back after a step back"
        );
        before.extend(after);
        // The process dies (no release) and its lease expires.
        let last_of_a = *before.last().unwrap();
        drop(lease_a);
        drop(a);
        s.execute("UPDATE node_leases SET expires_at_ms = 0 WHERE node_id = 0")
            .await;

        // A restart on the same node id with the clock still 2 s back waits past the mark.
        let (b, lease_b) = s.replica(&short(Some(0)), clock.clone()).await;
        assert_eq!(b.node_id(), Some(0));
        let from_b = draw(&b, 5_000);
        assert!(from_b[0] > last_of_a, "a new holder starts after the mark");
        let all: HashSet<i64> = before.iter().chain(&from_b).copied().collect();
        assert_eq!(all.len(), before.len() + from_b.len(), "no id repeats");
        lease_b.release().await;

        // A clock further back than FEEDLINE_NODE_CLOCK_WAIT_MS fails instead of waiting.
        s.execute("UPDATE node_leases SET high_water_ms = high_water_ms + 60000")
            .await;
        let c = Arc::new(IdGenerator::with_clock(clock));
        let url = s.database.url();
        match NodeLease::start(url, &short(Some(0)), c.clone()).await {
            Err(LeaseError::Fatal(why)) => assert!(why.contains("behind"), "{why}"),
            other => panic!("expected a fatal lease error, got {other:?}"),
        }
        assert_eq!(c.next(), Err(IdError::Unleased));
    }

    pub async fn a_lost_lease_stops_ids_until_leased_again(s: &TestServer) {
        let clock = Arc::new(SteppedClock::default());
        let (a, lease) = s.replica(&short(Some(0)), clock).await;
        let last = *draw(&a, 100).last().unwrap();
        // Another holder takes the row over (as after an expiry): the next renewal notices.
        s.execute(
            "UPDATE node_leases SET holder = 'thief', expires_at_ms = 9000000000000 \
             WHERE node_id = 0",
        )
        .await;
        eventually(
            "ids refused after the lease is lost",
            Duration::from_secs(5),
            || {
                let next = a.next();
                async move {
                    match next {
                        Err(IdError::Unleased) => Ok(()),
                        other => anyhow::bail!("still issuing: {other:?}"),
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(lease.node_id(), None);
        // Pinned, it waits for that node id; once free it is leased again and ids resume.
        s.execute("UPDATE node_leases SET expires_at_ms = 0 WHERE node_id = 0")
            .await;
        let resumed = eventually("ids again", Duration::from_secs(5), || {
            let next = a.next();
            async move { Ok(next?.0) }
        })
        .await
        .unwrap();
        assert!(resumed > last, "ids resume above the last one");
        assert_eq!(lease.node_id(), Some(0));
        lease.release().await;
    }

    pub async fn a_pinned_node_id_held_by_a_live_replica_fails_the_start(s: &TestServer) {
        let first = s.server("5").await.unwrap();
        // A second replica pinned to the same node id stops with an error instead of serving.
        let second = s.server("5").await;
        let error = format!("{:#}", second.err().expect("the second replica failed"));
        assert!(error.contains("FEEDLINE_NODE_ID 5"), "{error}");
        // Unpinned, a replica takes the lowest free node id beside the first.
        let third = s.server("").await.unwrap();
        for server in [first, third] {
            server.stop().await.unwrap();
        }
        let backend = s.db.get_database_backend();
        let sql = "SELECT expires_at_ms FROM node_leases";
        let rows =
            s.db.query_all_raw(Statement::from_string(backend, sql))
                .await;
        let expiries: Vec<i64> = rows
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect();
        assert_eq!(expiries, [0, 0], "both released on shutdown");
    }
}
