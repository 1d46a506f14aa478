//! Crash tests with real processes: fanout-service (three times) or post-service is SIGKILLed
//! while posts are being created, then restarted, and must serve again within a bound;
//! afterwards every committed post is in every follower's timeline exactly once. The
//! post-service crash runs on SQLite and PostgreSQL; three post-service replicas relaying one
//! PostgreSQL (and one MySQL) outbox lose their leader midway and keep per-author order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fanout_service::timelines::{PostServiceSource, TimelineConfig, Timelines};
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_test_harness::{
    Backend, Output, RedisCluster, ServiceProcess, TestDatabase, eventually, free_addr,
    workspace_binary,
};
use post_service::entity::post;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, Database, EntityTrait as _, QueryFilter as _, Statement,
};
use tokio::process::Command;
use tokio::sync::Mutex;
use tonic::transport::Channel;

const POSTS: usize = 120;
const FOLLOWERS: usize = 20;
/// post-service replicas of the multi-relay test.
const REPLICAS: usize = 3;
/// The relay leader lease of the tests: a successor takes over within it after a SIGKILL.
const LEADER_TTL_MS: &str = "3000";

/// A binary of the workspace: this package's from Cargo, another's where `cargo test
/// --workspace` built it.
fn binary(name: &str) -> PathBuf {
    if name == "fanout-service" {
        return PathBuf::from(env!("CARGO_BIN_EXE_fanout-service"));
    }
    workspace_binary(name).unwrap()
}

/// Starts `bin` with `env` (on top of the test's own), its output in `log`, and waits until
/// it is SERVING on `addr`; SIGKILLed when dropped.
async fn spawn(bin: &str, env: &[(&str, String)], addr: SocketAddr, log: &Path) -> ServiceProcess {
    let mut command = Command::new(binary(bin));
    command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "info");
    ServiceProcess::spawn_to(&mut command, addr, Output::File(log.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{bin}: {e:#}"))
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
            post_addrs: (0..REPLICAS).map(|_| free_addr().unwrap()).collect(),
            fanout_addr: free_addr().unwrap(),
        })
    }

    async fn start_post(&self, run: usize) -> ServiceProcess {
        self.start_replica(0, run).await
    }

    fn post_log(&self, replica: usize, run: usize) -> PathBuf {
        self.logs.path().join(format!("post-{replica}-{run}.log"))
    }

    /// Starts post-service replica `replica` (its `run`th start).
    async fn start_replica(&self, replica: usize, run: usize) -> ServiceProcess {
        let addr = self.post_addrs[replica];
        spawn(
            "post-service",
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
            addr,
            &self.post_log(replica, run),
        )
        .await
    }

    /// Starts fanout-service, reading posts from replica 0.
    async fn start_fanout(&self, run: usize) -> ServiceProcess {
        self.start_fanout_reading(run, 0).await
    }

    /// Starts fanout-service, reading posts from post-service replica `replica`.
    async fn start_fanout_reading(&self, run: usize, replica: usize) -> ServiceProcess {
        spawn(
            "fanout-service",
            &[
                ("FEEDLINE_LISTEN_ADDR", self.fanout_addr.to_string()),
                ("FEEDLINE_REDIS_URL", self.cluster.url()),
                (
                    "FEEDLINE_POST_SERVICE_URL",
                    format!("http://{}", self.post_addrs[replica]),
                ),
            ],
            self.fanout_addr,
            &self.logs.path().join(format!("fanout-{run}.log")),
        )
        .await
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
                    let replica = AtomicUsize::new(writer % replicas);
                    loop {
                        let i = {
                            let mut n = next.lock().await;
                            if *n == POSTS {
                                return;
                            }
                            *n += 1;
                            *n
                        };
                        let what = format!("post {i} answered OK");
                        eventually(&what, Duration::from_secs(90), || async {
                            let request = CreatePostRequest {
                                author_id: authors[i % authors.len()],
                                body: format!("post {i}"),
                                idempotency_key: format!("post-{i}"),
                            };
                            let r = replica.load(Ordering::Relaxed);
                            let answer = clients[r].clone().create_post(request).await;
                            answer.map(drop).map_err(|status| {
                                replica.store((r + 1) % replicas, Ordering::Relaxed);
                                anyhow::anyhow!("{status:?}")
                            })
                        })
                        .await
                        .unwrap();
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
        let logs = self.logs.path().display();
        for fan in fans {
            let what = format!("every committed post in the timeline of {fan} (logs in {logs})");
            let got = eventually(&what, Duration::from_secs(60), || async {
                let got = timelines.timeline(*fan, 10_000).await?;
                let set: BTreeSet<i64> = got.iter().copied().collect();
                anyhow::ensure!(
                    set == committed,
                    "{} committed posts missing, {} extra",
                    committed.difference(&set).count(),
                    set.difference(&committed).count()
                );
                Ok(got)
            })
            .await
            .unwrap();
            assert_eq!(got.len(), POSTS, "no duplicates in the timeline of {fan}");
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

mod kills;
mod relays;
