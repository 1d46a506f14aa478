//! The read path in one process: a throwaway Redis Cluster, post-service (SQLite, relay on),
//! fanout-service and feed-read-service on ephemeral ports, with clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::feed::v1::{FeedItemSource, GetFeedRequest, GetFeedResponse};
use feedline_proto::post::v1::Post;
use feedline_redis::keys;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{
    Backend, RedisCluster, Social, TestDatabase, ephemeral_listener, wait_for_serving,
};
use fred::prelude::SortedSetsInterface as _;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// How long fan-out may take in a test before it counts as lost.
pub const FANOUT_DEADLINE: Duration = Duration::from_secs(20);

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
}

/// One user's view of a post in a feed: (post id, source).
pub type Seen = (i64, FeedItemSource);

/// The whole stack.
pub struct Stack {
    pub cluster: RedisCluster,
    pub post: Running,
    pub fanout: Running,
    pub feed: Running,
    pub social: Social,
    pub reader: FeedServiceClient<Channel>,
    /// A raw client, to look at and damage what the services keep in Redis.
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
        let feed_listener = ephemeral_listener().await.unwrap();
        let post_addr = post_listener.local_addr().unwrap();
        let fanout_addr = fanout_listener.local_addr().unwrap();
        let feed_addr = feed_listener.local_addr().unwrap();
        let post_url = format!("http://{post_addr}");

        let mut fanout_vars = env(&[
            ("FEEDLINE_LISTEN_ADDR", fanout_addr.to_string()),
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", post_url.clone()),
        ]);
        fanout_vars.extend(
            fanout_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let config = fanout_service::Config::from_env(&fanout_vars).unwrap();
        let fanout = Running::spawn(fanout_addr, |shutdown| {
            fanout_service::run(config, fanout_listener, shutdown)
        });

        let config = post_service::Config::from_env(&env(&[
            ("FEEDLINE_LISTEN_ADDR", post_addr.to_string()),
            ("FEEDLINE_DATABASE_URL", db.url().to_owned()),
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
        for addr in [post_addr, fanout_addr, feed_addr] {
            wait_for_serving(addr, "", Duration::from_secs(60))
                .await
                .unwrap();
        }

        let channel = Channel::from_shared(post_url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let reader = Channel::from_shared(format!("http://{feed_addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let redis = feedline_redis::connect(&cluster.url()).await.unwrap();
        Stack {
            cluster,
            post,
            fanout,
            feed,
            social: Social::new(channel),
            reader: FeedServiceClient::new(reader),
            redis,
            _db: db,
        }
    }

    pub async fn stop(self) {
        self.feed.stop().await;
        self.post.stop().await;
        self.fanout.stop().await;
    }

    /// One GetFeed call.
    pub async fn get_feed(
        &self,
        user_id: i64,
        page_size: Option<i32>,
        page_token: &str,
    ) -> Result<GetFeedResponse, tonic::Status> {
        self.reader
            .clone()
            .get_feed(GetFeedRequest {
                user_id,
                page_size,
                page_token: page_token.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Walks the whole feed with pages of `page_size`: the items, and how many pages it took.
    pub async fn walk(&self, user_id: i64, page_size: i32) -> (Vec<Post>, usize) {
        let mut items = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = self
                .get_feed(user_id, Some(page_size), &token)
                .await
                .unwrap();
            pages += 1;
            assert!(page.items.len() <= page_size as usize);
            items.extend(page.items.into_iter().map(|item| item.post.unwrap()));
            if page.next_page_token.is_empty() {
                return (items, pages);
            }
            token = page.next_page_token;
            assert!(pages < 10_000, "the walk does not end");
        }
    }

    /// The first page of up to 100: (post id, source), newest first.
    pub async fn first_page(&self, user_id: i64) -> Vec<Seen> {
        let page = self.get_feed(user_id, Some(100), "").await.unwrap();
        page.items
            .iter()
            .map(|item| (item.post.as_ref().unwrap().post_id, item.source()))
            .collect()
    }

    /// Polls the first page until its post ids are `expected` (newest first).
    pub async fn wait_for_feed(&self, user_id: i64, expected: &[i64]) {
        let start = Instant::now();
        loop {
            let got: Vec<i64> = self.first_page(user_id).await.iter().map(|s| s.0).collect();
            if got == expected {
                return;
            }
            if start.elapsed() > FANOUT_DEADLINE {
                panic!("feed of {user_id}: expected {expected:?}, got {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    /// Polls until `post_id` has left `user_id`'s timeline in Redis. The feed hides a deleted
    /// post as soon as its tombstone is written, before the retract reaches the timelines, so a
    /// test that edits a timeline after a delete waits for this first.
    pub async fn wait_until_retracted(&self, user_id: i64, post_id: i64) {
        let start = Instant::now();
        loop {
            let score: Option<f64> = self
                .redis
                .zscore(keys::timeline(user_id), keys::member(post_id))
                .await
                .unwrap();
            if score.is_none() {
                return;
            }
            if start.elapsed() > FANOUT_DEADLINE {
                panic!("post {post_id} still in the timeline of {user_id}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Post ids newest first, as a feed orders them: by (create time, id), descending.
pub fn newest_first(posts: &[Post]) -> Vec<i64> {
    let mut keyed: Vec<(i64, i64)> = posts
        .iter()
        .map(|p| {
            let millis = feedline_proto::timestamp_to_millis(p.create_time.as_ref().unwrap());
            (millis.unwrap(), p.post_id)
        })
        .collect();
    keyed.sort_by(|a, b| b.cmp(a));
    keyed.into_iter().map(|(_, id)| id).collect()
}
