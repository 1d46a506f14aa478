//! Crash tests with real processes: fanout-service (three times) or post-service is SIGKILLed
//! while posts are being created, then restarted, and must serve again within a bound; afterwards every committed post is in every follower's
//! timeline exactly once.
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
use sea_orm::{ColumnTrait as _, Database, EntityTrait as _, QueryFilter as _};
use tokio::sync::Mutex;
use tonic::transport::Channel;

const POSTS: usize = 120;
const FOLLOWERS: usize = 20;

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
    post_addr: SocketAddr,
    fanout_addr: SocketAddr,
}

impl Crash {
    async fn new() -> Crash {
        Crash {
            cluster: RedisCluster::start(3, 0).await.unwrap(),
            db: TestDatabase::create(Backend::Sqlite)
                .await
                .unwrap()
                .unwrap(),
            logs: tempfile::tempdir().unwrap(),
            post_addr: free_addr(),
            fanout_addr: free_addr(),
        }
    }

    async fn start_post(&self, run: usize) -> Proc {
        let proc = Proc::spawn(
            &binary("post-service"),
            &[
                ("FEEDLINE_LISTEN_ADDR", self.post_addr.to_string()),
                ("FEEDLINE_DATABASE_URL", self.db.url().to_owned()),
                (
                    "FEEDLINE_FANOUT_URL",
                    format!("http://{}", self.fanout_addr),
                ),
                ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
            ],
            &self.logs.path().join(format!("post-{run}.log")),
        );
        wait_for_serving(self.post_addr, "", Duration::from_secs(60))
            .await
            .unwrap();
        proc
    }

    async fn start_fanout(&self, run: usize) -> Proc {
        let proc = Proc::spawn(
            &binary("fanout-service"),
            &[
                ("FEEDLINE_LISTEN_ADDR", self.fanout_addr.to_string()),
                ("FEEDLINE_REDIS_URL", self.cluster.url()),
                (
                    "FEEDLINE_POST_SERVICE_URL",
                    format!("http://{}", self.post_addr),
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
        Channel::from_shared(format!("http://{}", self.post_addr))
            .unwrap()
            .connect_lazy()
    }

    /// An author with FOLLOWERS followers.
    async fn graph(&self) -> (i64, Vec<i64>) {
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
        let author = user("author".into()).await;
        let mut fans = Vec::new();
        for i in 0..FOLLOWERS {
            let fan = user(format!("fan_{i:02}")).await;
            graph
                .clone()
                .follow(FollowRequest {
                    follower_id: fan,
                    followee_id: author,
                })
                .await
                .unwrap();
            fans.push(fan);
        }
        (author, fans)
    }

    /// Creates POSTS posts with 4 concurrent writers; each retries with its idempotency key
    /// until answered OK (as a client must when the server dies under it). Calls `on_fault(k)`
    /// for k in 1..=`faults`, once k/(faults+1) of the posts are acknowledged, then finishes.
    async fn write_posts(&self, author: i64, faults: usize, mut on_fault: impl AsyncFnMut(usize)) {
        let next = Arc::new(Mutex::new(0usize));
        let acked = Arc::new(Mutex::new(0usize));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (next, acked) = (next.clone(), acked.clone());
                let mut posts = PostServiceClient::new(self.channel());
                tokio::spawn(async move {
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
                                author_id: author,
                                body: format!("post {i}"),
                                idempotency_key: format!("post-{i}"),
                            };
                            match posts.create_post(request).await {
                                Ok(_) => break,
                                Err(status) => {
                                    assert!(Instant::now() < deadline, "post {i}: {status:?}");
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

    /// Every live post in the database, and a check that each follower's timeline holds exactly
    /// those (a sorted set cannot hold a member twice; the count proves none is missing).
    async fn assert_every_post_everywhere(&self, author: i64, fans: &[i64]) {
        let db = Database::connect(self.db.url()).await.unwrap();
        let committed: BTreeSet<i64> = post::Entity::find()
            .filter(post::Column::AuthorId.eq(author))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(
            committed.len(),
            POSTS,
            "idempotent retries created each post once"
        );
        let client = feedline_redis::connect(&self.cluster.url(), &Default::default())
            .await
            .unwrap();
        let timelines = Timelines::new(
            client,
            Arc::new(PostServiceSource::new(self.channel(), &Default::default())),
            TimelineConfig::default(),
        );
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
}

/// How long a restarted service may take to answer SERVING after a SIGKILL (a debug build on a
/// busy 2-core machine).
const SERVING_AGAIN_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_service_killed_three_times_mid_stream_loses_nothing() {
    let crash = Crash::new().await;
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
    let crash = Crash::new().await;
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
