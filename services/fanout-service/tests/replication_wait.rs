//! The durability step (`FEEDLINE_FANOUT_WAIT_REPLICAS`) against a real 3 + 3 Redis Cluster,
//! with the stack's post-service (SQLite) as the graph source (its relay and fanout-service,
//! without the step, deliver the same posts too: writes are idempotent): an event counts as applied only once
//! the replicas acknowledged its writes; a paused replica holds it back (a transient error, which
//! the API answers RETRY) until it catches up; asking for more replicas than a master has
//! does not stall fan-out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout_service::timelines::{
    PostServiceSource, ReplicationWait, TimelineConfig, TimelineError, Timelines,
};
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{DeliverPost, FanoutEvent};
use feedline_test_harness::{RedisCluster, eventually};
use fred::prelude::{Builder, ClientLike as _, Config};
use fred::types::InfoKind;
use fred::types::{ClusterHash, CustomCommand, Value};

mod common;

use common::Stack;

/// The fan-out path on a 3 + 3 cluster, every replica synced: until its first sync ends, a
/// WAIT may time out.
async fn start() -> Stack {
    let stack = Stack::start_with(|builder| builder.redis_replicas(1)).await;
    for addr in replicas(&stack.cluster) {
        let node = node(addr).await;
        eventually("replica synced", Duration::from_secs(30), || async {
            let info: String = node.info(Some(InfoKind::Replication)).await?;
            anyhow::ensure!(info.contains("master_link_status:up"), "{info}");
            Ok(())
        })
        .await
        .unwrap();
        let _ = node.quit().await;
    }
    stack
}

/// Timelines with the durability step asking for `replicas`, `timeout` each (generous where
/// the wait should succeed: CI has 2 busy cores).
fn waiting_timelines(stack: &Stack, replicas: usize, timeout: Duration) -> Timelines {
    let source = PostServiceSource::new(stack.post_channel.clone(), &Default::default());
    let config = TimelineConfig {
        replication: ReplicationWait { replicas, timeout },
        ..TimelineConfig::default()
    };
    Timelines::new(stack.redis.clone(), Arc::new(source), config)
}

/// `CLIENT PAUSE ms ALL` on every replica: each stops applying its master's stream.
async fn pause_replicas(cluster: &RedisCluster, pause: Duration) {
    for addr in replicas(cluster) {
        let node = node(addr).await;
        let command = CustomCommand::new_static("CLIENT", ClusterHash::Random, false);
        let millis = i64::try_from(pause.as_millis()).unwrap();
        let args: Vec<Value> = vec!["PAUSE".into(), millis.into(), "ALL".into()];
        let _: Value = node.custom(command, args).await.unwrap();
        let _ = node.quit().await;
    }
}

/// The nodes that own no slots.
fn replicas(cluster: &RedisCluster) -> Vec<SocketAddr> {
    let masters = cluster.master_addrs();
    let all = cluster.all_addrs();
    all.into_iter()
        .filter(|addr| !masters.contains(addr))
        .collect()
}

/// A client of one node alone.
async fn node(addr: SocketAddr) -> fred::prelude::Client {
    let config = Config::from_url(&format!("redis://{addr}")).unwrap();
    let node = Builder::from_config(config).build().unwrap();
    node.init().await.unwrap();
    node
}

fn deliver(post: feedline_proto::post::v1::Post) -> FanoutEvent {
    FanoutEvent {
        event_id: post.post_id,
        kind: Some(Kind::DeliverPost(DeliverPost { post: Some(post) })),
        ..FanoutEvent::default()
    }
}

/// An author with `n` followers, all in the follower index (the stack's own fan-out applies
/// the follows; a delivery applied before it has would reach only some of them). One
/// followee's follows apply in order, so the last one indexed means all are.
async fn author_with_followers(stack: &Stack, n: usize) -> (i64, Vec<i64>) {
    let author = stack.user("author").await;
    let mut followers = Vec::new();
    for i in 0..n {
        let follower = stack.user(&format!("fan{i}")).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    if let Some(&last) = followers.last() {
        stack
            .wait_for_follower_index(author, last, Duration::from_secs(30))
            .await;
    }
    (author, followers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_for_replicas_and_asks_no_more_than_a_master_has() {
    let stack = start().await;
    let (author, followers) = author_with_followers(&stack, 12).await;

    // One replica per master, as asked.
    let timelines = waiting_timelines(&stack, 1, Duration::from_secs(2));
    let post = stack.post(author, "replicated").await;
    let applied = timelines.apply(&deliver(post.clone())).await.unwrap();
    assert_eq!(applied.recipients, followers.len());
    for &follower in &followers {
        assert_eq!(
            timelines.timeline(follower, 10).await.unwrap(),
            vec![post.post_id]
        );
    }

    // Two asked, one connected per master: waited on that one, not refused forever.
    let greedy = waiting_timelines(&stack, 2, Duration::from_secs(2));
    let second = stack.post(author, "clamped").await;
    let started = Instant::now();
    let applied = greedy.apply(&deliver(second.clone())).await.unwrap();
    assert_eq!(applied.recipients, followers.len());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "applied in {:?}",
        started.elapsed()
    );
    let expected = vec![second.post_id, post.post_id];
    for &follower in &followers {
        assert_eq!(timelines.timeline(follower, 10).await.unwrap(), expected);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_not_applied_until_a_paused_replica_catches_up() {
    let stack = start().await;
    let (author, followers) = author_with_followers(&stack, 12).await;
    // Indexes built before the pause, with a generous wait.
    let warm = stack.post(author, "warm-up").await;
    let patient = waiting_timelines(&stack, 1, Duration::from_secs(2));
    patient.apply(&deliver(warm)).await.unwrap();
    let timelines = waiting_timelines(&stack, 1, Duration::from_millis(300));

    let pause = Duration::from_secs(3);
    pause_replicas(&stack.cluster, pause).await;
    let paused_at = Instant::now();
    let post = stack.post(author, "held back").await;
    let event = deliver(post.clone());
    let error = timelines.apply(&event).await.unwrap_err();
    assert!(
        matches!(error, TimelineError::Replication(_)) && !error.is_permanent(),
        "expected a transient replication error, got {error}"
    );
    assert!(
        paused_at.elapsed() < pause,
        "the replicas woke before the check"
    );

    // The relay resends it; once the replicas apply their backlog, it counts as applied.
    let resends = eventually(
        "the resend is acknowledged",
        Duration::from_secs(20),
        || {
            let (timelines, event) = (&timelines, &event);
            async move { Ok(timelines.apply(event).await?) }
        },
    )
    .await
    .unwrap();
    assert_eq!(resends.recipients, followers.len());
    assert!(paused_at.elapsed() >= pause - Duration::from_millis(500));
    for &follower in &followers {
        let timeline = timelines.timeline(follower, 10).await.unwrap();
        assert_eq!(
            timeline.iter().filter(|&&p| p == post.post_id).count(),
            1,
            "exactly once in {follower}'s timeline: {timeline:?}"
        );
    }
    stack.stop().await;
}
