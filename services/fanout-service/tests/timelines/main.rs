//! The timelines domain against a real 3-master Redis Cluster, with a real post-service (SQLite)
//! as the source that rebuilds follower indexes and author lists. Events are built by hand from
//! the ids post-service returns; no relay and no fanout server are involved.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout_service::timelines::{PostServiceSource, TimelineConfig, TimelineError, Timelines};
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{AddFollow, DeliverPost, FanoutEvent, RemoveFollow, RetractPost};
use feedline_proto::post::v1::Post;
use feedline_proto::prost::Message as _;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{
    Backend, RedisCluster, Social, TestDatabase, ephemeral_listener, wait_for_serving,
};
use fred::prelude::{
    Builder, Client, ClientLike as _, Config, KeysInterface as _, SetsInterface as _,
    SortedSetsInterface as _,
};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A sorted set as ZRANGE WITHSCORES returns it.
type Scored = Vec<(String, f64)>;

/// A Redis Cluster, a post-service on SQLite and a connected fred client, for one test.
struct Stack {
    /// Dropping it kills the nodes; `ping_fails_when_the_cluster_is_down` stops it early.
    cluster: RedisCluster,
    redis: Client,
    channel: Channel,
    social: Social,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    /// Dropped after the server that uses it.
    _database: TestDatabase,
}

impl std::ops::Deref for Stack {
    type Target = Social;

    /// post-service's clients: `stack.user(..)`, `stack.post(..)`, ...
    fn deref(&self) -> &Social {
        &self.social
    }
}

impl Stack {
    async fn start() -> Stack {
        let (cluster, database) = tokio::join!(RedisCluster::start(3, 0), async {
            TestDatabase::create(Backend::Sqlite).await
        });
        let cluster = cluster.expect("redis cluster");
        let database = database
            .expect("database")
            .expect("sqlite is always enabled");
        let listener = ephemeral_listener().await.expect("listener");
        let addr = listener.local_addr().expect("addr");
        let env: Env = [
            ("FEEDLINE_DATABASE_URL", database.url().to_owned()),
            ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
            ("FEEDLINE_SHUTDOWN_GRACE_MS", "5000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = post_service::Config::from_env(&env).expect("post-service config");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(post_service::run(config, listener, shutdown.clone()));
        wait_for_serving(addr, "", Duration::from_secs(60))
            .await
            .expect("post-service serving");
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connect to post-service");

        let config = Config::from_url(&cluster.url()).expect("cluster url");
        let redis = Builder::from_config(config).build().expect("fred client");
        redis.init().await.expect("cluster connected");
        Stack {
            cluster,
            redis,
            social: Social::new(channel.clone()),
            channel,
            shutdown,
            server,
            _database: database,
        }
    }

    /// Timelines over this stack's cluster, rebuilding from its post-service.
    fn timelines(&self, config: TimelineConfig) -> Timelines {
        let source = Arc::new(PostServiceSource::new(
            self.channel.clone(),
            &Default::default(),
        ));
        Timelines::new(self.redis.clone(), source, config)
    }

    async fn zrange(&self, key: &str) -> Scored {
        let range = self.redis.zrange(key, 0, -1, None, false, None, true);
        range.await.unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), self.server).await;
        // Bounded: after a test killed the cluster, QUIT has nobody to answer it.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.redis.quit()).await;
    }
}

fn event(kind: Kind) -> FanoutEvent {
    FanoutEvent {
        event_id: 1,
        kind: Some(kind),
        ..FanoutEvent::default()
    }
}

fn deliver(post: &Post) -> FanoutEvent {
    event(Kind::DeliverPost(DeliverPost {
        post: Some(post.clone()),
    }))
}

fn member(post_id: i64) -> String {
    format!("{post_id:019}")
}

fn millis(post: &Post) -> f64 {
    feedline_proto::timestamp_to_millis(post.create_time.as_ref().unwrap()).unwrap() as f64
}

mod delivery;
mod graph;
mod groups;
