//! The whole stack in one process for loadgen's tests: a 3-master Redis Cluster,
//! post-service (SQLite, relay pointed at fanout-service), fanout-service, feed-read-service
//! and log-ingest-service (SQLite), each on an ephemeral port, healthy before use. Authors with
//! more than 20 followers are celebrities, so a small graph has some.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use feedline_loadgen::Target;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{
    Backend, RedisCluster, TestDatabase, ephemeral_listener, wait_for_serving,
};
use tokio::task::JoinHandle;

/// fanout-service's celebrity threshold here: low, so a small graph has celebrities.
pub const CELEBRITY_THRESHOLD: usize = 20;

fn env(pairs: &[(&str, String)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A running service task and its stop switch.
pub struct Running {
    pub addr: SocketAddr,
    /// Cancelled by `stop`: the service then shuts down in order.
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn spawn<F>(addr: SocketAddr, run: impl FnOnce(CancellationToken) -> F) -> Running
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        Running {
            addr,
            shutdown: shutdown.clone(),
            task: tokio::spawn(run(shutdown)),
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("stopped within the grace period")
            .expect("no panic")
            .expect("run returned Ok");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The whole stack.
pub struct Stack {
    pub cluster: RedisCluster,
    pub post: Running,
    pub fanout: Running,
    pub feed: Running,
    pub logs: Running,
    /// Dropped after the services that use them.
    _post_db: TestDatabase,
    _logs_db: TestDatabase,
}

impl Stack {
    pub async fn start() -> Stack {
        let cluster = RedisCluster::start(3, 0).await.expect("redis cluster");
        let post_db = TestDatabase::create(Backend::Sqlite)
            .await
            .unwrap()
            .unwrap();
        let logs_db = TestDatabase::create(Backend::Sqlite)
            .await
            .unwrap()
            .unwrap();
        let post_listener = ephemeral_listener().await.unwrap();
        let fanout_listener = ephemeral_listener().await.unwrap();
        let feed_listener = ephemeral_listener().await.unwrap();
        let logs_listener = ephemeral_listener().await.unwrap();
        let post_addr = post_listener.local_addr().unwrap();
        let fanout_addr = fanout_listener.local_addr().unwrap();
        let feed_addr = feed_listener.local_addr().unwrap();
        let logs_addr = logs_listener.local_addr().unwrap();
        let post_url = format!("http://{post_addr}");

        let config = fanout_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", fanout_addr.to_string()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", post_url.clone()),
            (
                "FEEDLINE_CELEBRITY_THRESHOLD",
                CELEBRITY_THRESHOLD.to_string(),
            ),
        ]))
        .unwrap();
        let fanout = Running::spawn(fanout_addr, |shutdown| {
            fanout_service::run(config, fanout_listener, shutdown)
        });

        let config = post_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", post_addr.to_string()),
            ("FEEDLINE_DATABASE_URL", post_db.url().to_owned()),
            ("FEEDLINE_FANOUT_URL", format!("http://{fanout_addr}")),
            ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
        ]))
        .unwrap();
        let post = Running::spawn(post_addr, |shutdown| {
            post_service::run(config, post_listener, shutdown)
        });

        let config = feed_read_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", feed_addr.to_string()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", post_url.clone()),
        ]))
        .unwrap();
        let feed = Running::spawn(feed_addr, |shutdown| {
            feed_read_service::run(config, feed_listener, shutdown)
        });

        let config = log_ingest_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", logs_addr.to_string()),
            ("FEEDLINE_DATABASE_URL", logs_db.url().to_owned()),
        ]))
        .unwrap();
        let logs = Running::spawn(logs_addr, |shutdown| {
            log_ingest_service::run(config, logs_listener, shutdown)
        });

        for addr in [post_addr, fanout_addr, feed_addr, logs_addr] {
            wait_for_serving(addr, "", Duration::from_secs(60))
                .await
                .unwrap();
        }
        Stack {
            cluster,
            post,
            fanout,
            feed,
            logs,
            _post_db: post_db,
            _logs_db: logs_db,
        }
    }

    /// Where loadgen finds it.
    pub fn target(&self) -> Target {
        Target {
            post: self.post.url(),
            fanout: self.fanout.url(),
            feed: self.feed.url(),
            logs: self.logs.url(),
            redis_url: self.cluster.url(),
        }
    }

    pub async fn stop(self) {
        self.feed.stop().await;
        self.post.stop().await;
        self.fanout.stop().await;
        self.logs.stop().await;
    }
}
