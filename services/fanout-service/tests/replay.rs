//! Repair by replay: timelines damaged behind fanout-service's back (entries deleted from
//! Redis, an unfollow's and a retract's writes undone, as a failover to a lagging replica
//! would) are repaired by replaying post-service's retained outbox window, asked for with
//! `ReplayOutbox`; every acknowledged post ends up in every follower's timeline exactly once
//! and nothing unfollowed or deleted is served.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::{Duration, Instant};

use common::Stack;
use feedline_proto::fanout::v1::ReplayOutboxRequest;
use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use feedline_redis::keys;
use fred::prelude::{KeysInterface as _, SortedSetsInterface as _};
use tonic::Code;

/// Fan-out is asynchronous: every assertion polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_repairs_lost_writes_and_keeps_unfollows_and_deletes() {
    let stack = Stack::start(&[]).await;
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let carol = stack.user("carol").await;
    let (fans, posts) = fans_and_posts(&stack, alice, 8, 6).await;
    // [deliver, retract]: a post that must stay out.
    let gone = stack.post(alice, "deleted").await;
    stack.delete(&gone).await;
    // [follow, deliver, deliver, unfollow, retract]: carol must end with none of bob's posts,
    // including the one deleted after she unfollowed (it has left bob's list by then).
    stack.follow(carol, bob).await;
    let bobs = stack.post(bob, "by bob").await.post_id;
    let bobs_deleted = stack.post(bob, "by bob, deleted later").await;
    stack
        .wait_for_timeline(carol, &[bobs_deleted.post_id, bobs], DEADLINE)
        .await;
    stack.unfollow(carol, bob).await;
    stack.wait_for_timeline(carol, &[], DEADLINE).await;
    stack.delete(&bobs_deleted).await;
    let expected: Vec<i64> = posts.iter().rev().copied().collect();
    for fan in &fans {
        stack.wait_for_timeline(*fan, &expected, DEADLINE).await;
    }

    // The damage: entries lost from half the timelines, and the unfollow's and the retract's
    // removals undone, as if the writes had never reached a replica that was then promoted.
    let mut missing = 0;
    for (i, fan) in fans.iter().enumerate().take(4) {
        missing += lose(&stack, *fan, &posts[i..i + 3]).await;
    }
    let bobs_posts = vec![
        (1.0, keys::member(bobs)),
        (2.0, keys::member(bobs_deleted.post_id)),
    ];
    put_back(&stack, keys::timeline(carol), bobs_posts).await;
    let gone_post = vec![(2.0, keys::member(gone.post_id))];
    put_back(&stack, keys::timeline(fans[7]), gone_post).await;
    // Bob's keys lost the retract's writes too: the deleted post is back in his list, and his
    // recent deletions are gone. Its tombstone (another key, another node) survived, so the
    // replayed delivery drops the post from `ap:` before the replayed unfollow runs: only
    // `ar:`, rebuilt by that delivery, still names it for the unfollow.
    let entry = keys::entry_of(&bobs_deleted).unwrap();
    put_back(&stack, keys::author_posts(bob), vec![entry]).await;
    let _: i64 = stack.redis.del(keys::author_retracted(bob)).await.unwrap();
    let wrong = damage(&stack, &fans, &expected, Some(carol)).await;
    eprintln!("before the repair: {missing} entries missing, {wrong} timelines wrong");
    assert_eq!(missing, 12, "the damage is there to repair");

    let mut client = FanoutServiceClient::new(stack.fanout.channel().await.unwrap());
    let too_long = client
        .replay_outbox(ReplayOutboxRequest {
            since_minutes: 10_081,
        })
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument);
    let answer = client
        .replay_outbox(ReplayOutboxRequest { since_minutes: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.sent, "the relay is connected");

    let start = Instant::now();
    let repair = "the replay repairs every timeline";
    wait_repaired(repair, &stack, &fans, &expected, Some(carol)).await;
    eprintln!("repaired in {:?}", start.elapsed());
    // Exactly once, and still so once the replay is over (nothing re-adds a removed entry late).
    for fan in &fans {
        assert_eq!(stack.timeline(*fan).await, expected);
    }
    assert!(stack.timeline(carol).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_makes_fanout_replay_the_window_on_its_own() {
    let mut stack = Stack::start_with(|b| b.redis_replicas(1)).await;
    let alice = stack.user("alice").await;
    let (fans, posts) = fans_and_posts(&stack, alice, 12, 4).await;
    let expected: Vec<i64> = posts.iter().rev().copied().collect();
    for fan in &fans {
        stack.wait_for_timeline(*fan, &expected, DEADLINE).await;
    }
    // Writes the replica never got: removed on the masters (replicated, so the promoted
    // replica lacks them too), as an acknowledged write lost with a master would be.
    let mut missing = 0;
    for fan in &fans {
        missing += lose(&stack, *fan, &posts[1..2]).await;
    }
    assert_eq!(missing, 12, "the damage is there to repair");

    let killed = stack.cluster.kill_master(0).unwrap();
    let promoted = stack
        .cluster
        .wait_for_failover(killed, DEADLINE)
        .await
        .unwrap();
    eprintln!("killed {killed}, {promoted} promoted; {missing} entries missing");
    // No ReplayOutbox: fanout-service sees the new primary and asks for the replay itself.
    let start = Instant::now();
    let repair = "the failover's replay repairs every timeline";
    wait_repaired(repair, &stack, &fans, &expected, None).await;
    eprintln!("repaired {:?} after the promotion", start.elapsed());
    stack.stop().await;
}

/// `fans` users following `author`, then `posts` posts of the author's, oldest first.
async fn fans_and_posts(
    stack: &Stack,
    author: i64,
    fans: usize,
    posts: usize,
) -> (Vec<i64>, Vec<i64>) {
    let mut followers = Vec::new();
    for i in 0..fans {
        let fan = stack.user(&format!("fan_{i}")).await;
        stack.follow(fan, author).await;
        followers.push(fan);
    }
    let mut ids = Vec::new();
    for i in 0..posts {
        ids.push(stack.post(author, &format!("post {i}")).await.post_id);
    }
    (followers, ids)
}

/// Removes `posts` from `user`'s timeline behind fanout-service's back; how many were there.
async fn lose(stack: &Stack, user: i64, posts: &[i64]) -> i64 {
    let members: Vec<String> = posts.iter().copied().map(keys::member).collect();
    stack
        .redis
        .zrem(keys::timeline(user), members)
        .await
        .unwrap()
}

/// Adds `entries` (score, member) to sorted set `key` behind fanout-service's back, as a
/// removal that never reached a promoted replica leaves them.
async fn put_back(stack: &Stack, key: String, entries: Vec<(f64, String)>) {
    let _: i64 = stack
        .redis
        .zadd(key, None, None, false, false, entries)
        .await
        .unwrap();
}

/// How many timelines differ from what they should hold: every fan exactly `expected` (newest
/// first, each once), `emptied` (when given) nothing. One that cannot be read (a failover under
/// way) counts as wrong.
async fn damage(stack: &Stack, fans: &[i64], expected: &[i64], emptied: Option<i64>) -> usize {
    let read = |user| async move { stack.timelines.timeline(user, 10_000).await.ok() };
    let mut wrong = 0;
    for fan in fans {
        if read(*fan).await.as_deref() != Some(expected) {
            wrong += 1;
        }
    }
    if let Some(user) = emptied
        && read(user).await.is_none_or(|timeline| !timeline.is_empty())
    {
        wrong += 1;
    }
    wrong
}

/// Polls until [`damage`] finds no timeline wrong.
async fn wait_repaired(
    what: &str,
    stack: &Stack,
    fans: &[i64],
    expected: &[i64],
    emptied: Option<i64>,
) {
    feedline_test_harness::eventually(what, DEADLINE, || async {
        match damage(stack, fans, expected, emptied).await {
            0 => Ok(()),
            wrong => Err(anyhow::anyhow!("{wrong} timelines still wrong")),
        }
    })
    .await
    .unwrap();
}
