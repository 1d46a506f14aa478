//! The fan-out path in one process: a throwaway Redis Cluster, post-service (SQLite, relay on)
//! and fanout-service on ephemeral ports, with clients and a timeline reader.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout_service::timelines::{PostServiceSource, TimelineConfig, Timelines};
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{
    Backend, RedisCluster, Social, TestDatabase, ephemeral_listener, wait_for_serving,
};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

fn env(pairs: &[(&str, String)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A running service task and its stop switch.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("stopped within the grace period")
            .expect("no panic")
            .expect("run returned Ok");
    }
}

/// The whole fan-out path.
pub struct Stack {
    pub cluster: RedisCluster,
    pub post: Running,
    pub fanout: Running,
    pub social: Social,
    pub timelines: Timelines,
    /// A raw client, for keys the Timelines API does not read.
    pub redis: fred::prelude::Client,
    _db: TestDatabase,
}

impl std::ops::Deref for Stack {
    type Target = Social;

    /// post-service's clients: `stack.user(..)`, `stack.post(..)`, ...
    fn deref(&self) -> &Social {
        &self.social
    }
}

impl Stack {
    /// Starts everything; `fanout_env` adds or overrides fanout-service variables.
    pub async fn start(fanout_env: &[(&str, &str)]) -> Stack {
        let cluster = RedisCluster::start(3, 0).await.expect("redis cluster");
        let db = TestDatabase::create(Backend::Sqlite)
            .await
            .unwrap()
            .unwrap();
        let post_listener = ephemeral_listener().await.unwrap();
        let fanout_listener = ephemeral_listener().await.unwrap();
        let post_addr = post_listener.local_addr().unwrap();
        let fanout_addr = fanout_listener.local_addr().unwrap();

        let mut fanout_vars = env(&[
            ("FEEDLINE_LISTEN_ADDR", fanout_addr.to_string()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", format!("http://{post_addr}")),
        ]);
        fanout_vars.extend(
            fanout_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let fanout_config = fanout_service::Config::from_env(&fanout_vars).unwrap();
        let shutdown = CancellationToken::new();
        let fanout = Running {
            addr: fanout_addr,
            shutdown: shutdown.clone(),
            task: tokio::spawn(fanout_service::run(
                fanout_config,
                fanout_listener,
                shutdown,
            )),
        };

        let post_config = post_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", post_addr.to_string()),
            ("FEEDLINE_DATABASE_URL", db.url().to_owned()),
            ("FEEDLINE_FANOUT_URL", format!("http://{fanout_addr}")),
            ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
        ]))
        .unwrap();
        let shutdown = CancellationToken::new();
        let post = Running {
            addr: post_addr,
            shutdown: shutdown.clone(),
            task: tokio::spawn(post_service::run(post_config, post_listener, shutdown)),
        };
        wait_for_serving(post_addr, "", Duration::from_secs(60))
            .await
            .unwrap();
        wait_for_serving(fanout_addr, "", Duration::from_secs(60))
            .await
            .unwrap();

        let channel = Channel::from_shared(format!("http://{post_addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let client = feedline_redis::connect(&cluster.url()).await.unwrap();
        let timelines = Timelines::new(
            client.clone(),
            Arc::new(PostServiceSource::new(channel.clone())),
            TimelineConfig::default(),
        );
        Stack {
            cluster,
            post,
            fanout,
            social: Social::new(channel),
            timelines,
            redis: client,
            _db: db,
        }
    }

    pub async fn stop(self) {
        self.post.stop().await;
        self.fanout.stop().await;
    }

    /// The user's timeline, newest first.
    pub async fn timeline(&self, user_id: i64) -> Vec<i64> {
        self.timelines.timeline(user_id, 10_000).await.unwrap()
    }

    /// Polls until `post_id` is in author `author_id`'s own list (`ap:{A}`).
    pub async fn wait_for_author_list(&self, author_id: i64, post_id: i64, deadline: Duration) {
        use fred::prelude::SortedSetsInterface as _;
        let start = Instant::now();
        let member = format!("{post_id:019}");
        loop {
            let score: Option<f64> = self
                .redis
                .zscore(format!("ap:{{{author_id}}}"), member.as_str())
                .await
                .unwrap();
            if score.is_some() {
                return;
            }
            assert!(
                start.elapsed() < deadline,
                "post {post_id} never reached ap:{{{author_id}}}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls the timeline until it equals `expected` (newest first) or `deadline` passes.
    pub async fn wait_for_timeline(&self, user_id: i64, expected: &[i64], deadline: Duration) {
        let start = Instant::now();
        loop {
            let got = self.timeline(user_id).await;
            if got == expected {
                return;
            }
            if start.elapsed() > deadline {
                panic!("timeline of {user_id}: expected {expected:?}, got {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
