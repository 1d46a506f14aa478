//! Crash tests with real processes: fanout-service (three times) or post-service is SIGKILLed
//! while posts are being created, then restarted, and must serve again within a bound;
//! afterwards every committed post is in every follower's timeline exactly once. The
//! post-service crash runs on SQLite and PostgreSQL; three post-service replicas relaying one
//! PostgreSQL (and one MySQL) outbox lose their leader midway and keep per-author order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout_service::timelines::{PostServiceSource, TimelineConfig, Timelines};
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_test_harness::{Backend, RedisCluster, TestDatabase, eventually, wait_for_serving};
use post_service::entity::post;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, Database, EntityTrait as _, QueryFilter as _, Statement,
};
use tokio::sync::Mutex;
use tonic::transport::Channel;

const POSTS: usize = 120;
const FOLLOWERS: usize = 20;
/// post-service replicas of the multi-relay test.
const REPLICAS: usize = 3;
/// The relay leader lease of the tests: a successor takes over within it after a SIGKILL.
const LEADER_TTL_MS: &str = "3000";

/// A service binary running as a child process; SIGKILLed when dropped.
struct Proc {
    child: Child,
}

impl Proc {
    fn spawn(bin: &Path, env: &[(&str, String)], log: &Path) -> Proc {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(bin)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "info")
            // Several replicas of one service: no fixed default admin port each.
            .env("FEEDLINE_METRICS_ADDR", "off")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Proc { child }
    }

    /// SIGKILL: no shutdown sequence, no flush, exactly a crash.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary of the workspace. `cargo test --workspace` (what `cargo xtask test` runs) builds
/// every member's binaries; post-service's is not this package's, so Cargo names only ours.
fn binary(name: &str) -> PathBuf {
    if name == "fanout-service" {
        return PathBuf::from(env!("CARGO_BIN_EXE_fanout-service"));
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the suite with `cargo xtask test` (or `cargo build --bins` first)",
        path.display()
    );
    path
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Crash {
    cluster: RedisCluster,
    db: TestDatabase,
    logs: tempfile::TempDir,
    /// One address per post-service replica; the single-replica tests use the first.
    post_addrs: Vec<SocketAddr>,
    fanout_addr: SocketAddr,
}

impl Crash {
    /// `None` (the test is skipped) when `backend`'s server URL is not set.
    async fn new(backend: Backend) -> Option<Crash> {
        let Some(db) = TestDatabase::create(backend).await.unwrap() else {
            eprintln!(
                "skipped on {}: {} is not set",
                backend.name(),
                backend.env_var().unwrap_or_default()
            );
            return None;
        };
        Some(Crash {
            cluster: RedisCluster::start(3, 0).await.unwrap(),
            db,
            logs: tempfile::tempdir().unwrap(),
            post_addrs: (0..REPLICAS).map(|_| free_addr()).collect(),
            fanout_addr: free_addr(),
        })
    }

    async fn start_post(&self, run: usize) -> Proc {
        self.start_replica(0, run).await
    }

    fn post_log(&self, replica: usize, run: usize) -> PathBuf {
        self.logs.path().join(format!("post-{replica}-{run}.log"))
    }

    /// Starts post-service replica `replica` (its `run`th start).
    async fn start_replica(&self, replica: usize, run: usize) -> Proc {
        let addr = self.post_addrs[replica];
        let proc = Proc::spawn(
            &binary("post-service"),
            &[
                ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
                ("FEEDLINE_DATABASE_URL", self.db.url().to_owned()),
                (
                    "FEEDLINE_FANOUT_URL",
                    format!("http://{}", self.fanout_addr),
                ),
                ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
                ("FEEDLINE_RELAY_LEADER_TTL_MS", LEADER_TTL_MS.to_owned()),
                // These tests are about crashes, not overload: a write must never be refused
                // because fan-out fell behind (as it does while a relay leader is replaced, or
                // on a busy machine), or the graph and the unfollows could not be made.
                ("FEEDLINE_ADMISSION_MAX_LAG_MS", "0".to_owned()),
                ("FEEDLINE_ADMISSION_MAX_BACKLOG", "0".to_owned()),
            ],
            &self.post_log(replica, run),
        );
        wait_for_serving(addr, "", Duration::from_secs(60))
            .await
            .unwrap();
        proc
    }

    /// Starts fanout-service, reading posts from replica 0.
    async fn start_fanout(&self, run: usize) -> Proc {
        self.start_fanout_reading(run, 0).await
    }

    /// Starts fanout-service, reading posts from post-service replica `replica`.
    async fn start_fanout_reading(&self, run: usize, replica: usize) -> Proc {
        let proc = Proc::spawn(
            &binary("fanout-service"),
            &[
                ("FEEDLINE_LISTEN_ADDR", self.fanout_addr.to_string()),
                ("FEEDLINE_REDIS_URL", self.cluster.url()),
                (
                    "FEEDLINE_POST_SERVICE_URL",
                    format!("http://{}", self.post_addrs[replica]),
                ),
            ],
            &self.logs.path().join(format!("fanout-{run}.log")),
        );
        wait_for_serving(self.fanout_addr, "", Duration::from_secs(60))
            .await
            .unwrap();
        proc
    }

    fn channel(&self) -> Channel {
        self.channel_to(0)
    }

    fn channel_to(&self, replica: usize) -> Channel {
        Channel::from_shared(format!("http://{}", self.post_addrs[replica]))
            .unwrap()
            .connect_lazy()
    }

    /// An author with FOLLOWERS followers.
    async fn graph(&self) -> (i64, Vec<i64>) {
        let (authors, fans) = self.graph_of(1).await;
        (authors[0], fans)
    }

    /// `authors` authors, each followed by the same FOLLOWERS followers.
    async fn graph_of(&self, authors: usize) -> (Vec<i64>, Vec<i64>) {
        let graph = GraphServiceClient::new(self.channel());
        let user = |handle: String| {
            let mut graph = graph.clone();
            async move {
                graph
                    .create_user(CreateUserRequest {
                        handle,
                        display_name: String::new(),
                        subject: String::new(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .user
                    .unwrap()
                    .user_id
            }
        };
        let mut ids = Vec::new();
        for k in 0..authors {
            ids.push(user(format!("author_{k}")).await);
        }
        let mut fans = Vec::new();
        for i in 0..FOLLOWERS {
            let fan = user(format!("fan_{i:02}")).await;
            for &author in &ids {
                graph
                    .clone()
                    .follow(FollowRequest {
                        follower_id: fan,
                        followee_id: author,
                    })
                    .await
                    .unwrap();
            }
            fans.push(fan);
        }
        (ids, fans)
    }

    /// Creates POSTS posts of `author` through replica 0: see [`Crash::write_posts_of`].
    async fn write_posts(&self, author: i64, faults: usize, on_fault: impl AsyncFnMut(usize)) {
        self.write_posts_of(&[author], 1, faults, on_fault).await;
    }

    /// Creates POSTS posts, the authors taking turns, with 4 concurrent writers spread over the
    /// first `replicas` post-service replicas; each retries with its idempotency key (through
    /// the next replica) until answered OK, as a client must when the server dies under it.
    /// Calls `on_fault(k)` for k in 1..=`faults`, once k/(faults+1) of the posts are
    /// acknowledged, then finishes.
    async fn write_posts_of(
        &self,
        authors: &[i64],
        replicas: usize,
        faults: usize,
        mut on_fault: impl AsyncFnMut(usize),
    ) {
        let next = Arc::new(Mutex::new(0usize));
        let acked = Arc::new(Mutex::new(0usize));
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let (next, acked) = (next.clone(), acked.clone());
                let clients: Vec<_> = (0..replicas)
                    .map(|r| PostServiceClient::new(self.channel_to(r)))
                    .collect();
                let authors = authors.to_vec();
                tokio::spawn(async move {
                    let mut replica = writer % replicas;
                    loop {
                        let i = {
                            let mut n = next.lock().await;
                            if *n == POSTS {
                                return;
                            }
                            *n += 1;
                            *n
                        };
                        let deadline = Instant::now() + Duration::from_secs(90);
                        loop {
                            let request = CreatePostRequest {
                                author_id: authors[i % authors.len()],
                                body: format!("post {i}"),
                                idempotency_key: format!("post-{i}"),
                            };
                            match clients[replica].clone().create_post(request).await {
                                Ok(_) => break,
                                Err(status) => {
                                    assert!(Instant::now() < deadline, "post {i}: {status:?}");
                                    replica = (replica + 1) % replicas;
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            }
                        }
                        *acked.lock().await += 1;
                    }
                })
            })
            .collect();
        for fault in 1..=faults {
            let due = POSTS * fault / (faults + 1);
            eventually("posts acknowledged", Duration::from_secs(120), || async {
                let acked = *acked.lock().await;
                anyhow::ensure!(acked >= due, "{acked} of {due}");
                Ok(())
            })
            .await
            .unwrap();
            on_fault(fault).await;
        }
        for writer in writers {
            writer.await.unwrap();
        }
    }

    /// Every live post of `author` in the database, and a check that each follower's timeline
    /// holds exactly those (a sorted set cannot hold a member twice; the count proves none is
    /// missing).
    async fn assert_every_post_everywhere(&self, author: i64, fans: &[i64]) {
        self.assert_every_post_of(&[author], fans, 0).await;
    }

    /// Every live post of `authors` in the database (POSTS of them), and a check that each of
    /// `fans`' timelines holds exactly those; timelines are read back through replica `reader`.
    async fn assert_every_post_of(&self, authors: &[i64], fans: &[i64], reader: usize) {
        let committed = self.committed(authors).await;
        assert_eq!(
            committed.len(),
            POSTS,
            "idempotent retries created each post once"
        );
        let timelines = self.timelines(reader).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        for fan in fans {
            loop {
                let got = timelines.timeline(*fan, 10_000).await.unwrap();
                let set: BTreeSet<i64> = got.iter().copied().collect();
                if set == committed {
                    assert_eq!(got.len(), POSTS, "no duplicates in the timeline of {fan}");
                    break;
                }
                if Instant::now() > deadline {
                    let missing = committed.difference(&set).count();
                    panic!(
                        "timeline of {fan}: {missing} committed posts missing, {} extra; logs in {}",
                        set.difference(&committed).count(),
                        self.logs.path().display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The ids of every live post of `authors`.
    async fn committed(&self, authors: &[i64]) -> BTreeSet<i64> {
        let db = Database::connect(self.db.url()).await.unwrap();
        post::Entity::find()
            .filter(post::Column::AuthorId.is_in(authors.iter().copied()))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    }

    /// fanout-service's timelines, read straight from the cluster; a missing one is rebuilt
    /// through post-service replica `reader`.
    async fn timelines(&self, reader: usize) -> Timelines {
        let client = feedline_redis::connect(&self.cluster.url(), &Default::default())
            .await
            .unwrap();
        Timelines::new(
            client,
            Arc::new(PostServiceSource::new(
                self.channel_to(reader),
                &Default::default(),
            )),
            TimelineConfig::default(),
        )
    }

    /// Waits until every outbox row was acknowledged as applied.
    async fn wait_outbox_drained(&self) {
        let db = Database::connect(self.db.url()).await.unwrap();
        let sql = Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) FROM outbox");
        eventually("the outbox drained", Duration::from_secs(120), || async {
            let row = db.query_one_raw(sql.clone()).await?.unwrap();
            let left: i64 = row.try_get_by_index(0)?;
            anyhow::ensure!(left == 0, "{left} rows left");
            Ok(())
        })
        .await
        .unwrap();
    }

    /// How many times each replica's `run`th start took the relay leader lease, and whether any
    /// log says a leader lost it or failed to renew it.
    fn leaderships(&self, run: usize) -> (Vec<usize>, bool) {
        let logs: Vec<String> = (0..REPLICAS)
            .map(|r| std::fs::read_to_string(self.post_log(r, run)).unwrap_or_default())
            .collect();
        let took = logs
            .iter()
            .map(|log| log.matches("took the relay lease").count())
            .collect();
        let lost = logs.iter().any(|log| {
            log.contains("lost the relay lease") || log.contains("could not renew the relay lease")
        });
        (took, lost)
    }
}

/// How long a restarted service may take to answer SERVING after a SIGKILL (a debug build on a
/// busy 2-core machine).
const SERVING_AGAIN_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_service_killed_three_times_mid_stream_loses_nothing() {
    let crash = Crash::new(Backend::Sqlite).await.unwrap();
    let mut fanout = Some(crash.start_fanout(1).await);
    let _post = crash.start_post(1).await;
    let (author, fans) = crash.graph().await;
    crash
        .write_posts(author, 3, async |kill| {
            fanout.take().unwrap().kill();
            let killed = Instant::now();
            fanout = Some(crash.start_fanout(kill + 1).await);
            let serving = killed.elapsed();
            eprintln!("kill {kill}: fanout-service serving again {serving:?} after the SIGKILL");
            assert!(serving < SERVING_AGAIN_WITHIN, "kill {kill}: {serving:?}");
        })
        .await;
    crash.assert_every_post_everywhere(author, &fans).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_killed_between_commit_and_send_loses_nothing() {
    post_service_killed_between_commit_and_send(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_killed_between_commit_and_send_loses_nothing_on_postgres() {
    post_service_killed_between_commit_and_send(Backend::Postgres).await;
}

async fn post_service_killed_between_commit_and_send(backend: Backend) {
    let Some(crash) = Crash::new(backend).await else {
        return;
    };
    let _fanout = crash.start_fanout(1).await;
    let mut post = Some(crash.start_post(1).await);
    let (author, fans) = crash.graph().await;
    crash
        .write_posts(author, 1, async |_| {
            post.take().unwrap().kill();
            post = Some(crash.start_post(2).await);
        })
        .await;
    crash.assert_every_post_everywhere(author, &fans).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_postgres_lose_their_leader_and_keep_per_author_order() {
    three_relays_lose_their_leader(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_mysql_lose_their_leader_and_keep_per_author_order() {
    three_relays_lose_their_leader(Backend::Mysql).await;
}

/// Followers who unfollow every author two thirds through the writes.
const UNFOLLOWERS: usize = 5;

/// Three post-service replicas on one database, writes spread over all of them; the relay
/// leader (replica 0, started first) is SIGKILLed a third through and the unfollows come two
/// thirds through. Only one replica relays at a time, every committed post is in every
/// remaining follower's timeline exactly once, and no unfollower keeps a post: an unfollow
/// overtaken by an older post of its author (two relays sending one author's events at once)
/// would leave that post behind.
async fn three_relays_lose_their_leader(backend: Backend) {
    let Some(crash) = Crash::new(backend).await else {
        return;
    };
    let mut leader = Some(crash.start_replica(0, 1).await);
    eventually("replica 0 leads", Duration::from_secs(10), || async {
        anyhow::ensure!(crash.leaderships(1).0[0] == 1);
        Ok(())
    })
    .await
    .unwrap();
    let _standbys = [
        crash.start_replica(1, 1).await,
        crash.start_replica(2, 1).await,
    ];
    // fanout-service reads from a replica that stays up.
    let _fanout = crash.start_fanout_reading(1, 1).await;
    let (authors, fans) = crash.graph_of(3).await;
    let social = feedline_test_harness::Social::new(crash.channel_to(2));
    crash
        .write_posts_of(&authors, REPLICAS, 2, async |fault| {
            if fault == 1 {
                let (took, lost) = crash.leaderships(1);
                assert_eq!(took, [1, 0, 0], "only the first replica relayed so far");
                assert!(!lost, "no leader lost its lease");
                leader.take().unwrap().kill();
            } else {
                for &fan in &fans[..UNFOLLOWERS] {
                    for &author in &authors {
                        social.unfollow(fan, author).await;
                    }
                }
            }
        })
        .await;
    crash.wait_outbox_drained().await;
    let (took, lost) = crash.leaderships(1);
    assert_eq!(took[0], 1);
    assert_eq!(
        took[1] + took[2],
        1,
        "exactly one standby took over, after the SIGKILL: {took:?}"
    );
    assert!(
        !lost,
        "no leader lost its lease; logs in {}",
        crash.logs.path().display()
    );
    crash
        .assert_every_post_of(&authors, &fans[UNFOLLOWERS..], 1)
        .await;
    let committed = crash.committed(&authors).await;
    let timelines = crash.timelines(1).await;
    for fan in &fans[..UNFOLLOWERS] {
        let kept: Vec<i64> = timelines
            .timeline(*fan, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|post| committed.contains(post))
            .collect();
        assert!(
            kept.is_empty(),
            "unfollower {fan} kept {} posts of authors it unfollowed; logs in {}",
            kept.len(),
            crash.logs.path().display()
        );
    }
}
