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
use feedline_stack::{Service, Services};
use feedline_test_harness::{RedisCluster, Social};
use fred::prelude::{
    Builder, Client, ClientLike as _, Config, KeysInterface as _, SetsInterface as _,
    SortedSetsInterface as _,
};
use tonic::transport::Channel;

/// A sorted set as ZRANGE WITHSCORES returns it.
type Scored = Vec<(String, f64)>;

/// A Redis Cluster, a post-service on SQLite (the stack's, without its relay and without
/// fanout-service) and a connected fred client, for one test.
struct Stack {
    /// Dropping it kills the nodes; `ping_fails_when_the_cluster_is_down` stops it early.
    cluster: RedisCluster,
    /// post-service and its database.
    services: Services,
    redis: Client,
    channel: Channel,
    social: Social,
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
        let mut services = feedline_stack::Stack::builder()
            .cluster()
            .env(Service::Post, &[("FEEDLINE_SHUTDOWN_GRACE_MS", "5000")])
            .start_only(&[Service::Post])
            .await
            .expect("cluster and post-service");
        let cluster = services.cluster.take().expect("the stack runs a cluster");
        let post = services.post.as_ref().expect("post-service runs");
        let channel = post.channel().await.expect("connect to post-service");
        let config = Config::from_url(&cluster.url()).expect("cluster url");
        let redis = Builder::from_config(config).build().expect("fred client");
        redis.init().await.expect("cluster connected");
        Stack {
            cluster,
            services,
            redis,
            social: Social::new(channel.clone()),
            channel,
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
        let _ = tokio::time::timeout(Duration::from_secs(15), self.services.stop()).await;
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
