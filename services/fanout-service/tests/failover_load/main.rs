//! Issue 15's acceptance: under fan-out load (about 200 posts/s, about 100 followers per author)
//! a master is SIGKILLed while its replica is paused and cut off, so its promotion certainly
//! loses writes the master acknowledged. With the automatic replay off, the test counts the
//! damage (it must find some: the test can fail), then `ReplayOutbox` repairs it: every
//! acknowledged post in every follower's timeline exactly once, in order, and a follow, an
//! unfollow and a delete issued during the pause and during the outage end right.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use common::Stack;
use feedline_proto::fanout::v1::ReplayOutboxRequest;
use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use feedline_proto::post::v1::{CreatePostRequest, Post};
use feedline_redis::keys;
use feedline_service_kit::CancellationToken;
use feedline_stack::Service;
use feedline_test_harness::{Social, eventually};
use fred::prelude::{ClusterInterface as _, KeysInterface as _, SortedSetsInterface as _};
use futures::future::join_all;
use tokio::task::JoinSet;

/// CreatePost calls per second, open loop, spread over the authors.
const RATE: u32 = 200;
const AUTHORS: usize = 2;
const FANS_PER_AUTHOR: usize = 100;
/// Load before the pause, and again after the promotion.
const LOAD_BEFORE: Duration = Duration::from_secs(3);
const LOAD_AFTER: Duration = Duration::from_secs(3);
/// The replica stays paused at least this long (the load goes on, the master acknowledges
/// writes the replica never gets), and well under `cluster-node-timeout` (2 s) at most.
const MIN_PAUSE: Duration = Duration::from_millis(600);
const MAX_PAUSE_WAIT: Duration = Duration::from_millis(1_000);
/// Above every author's post count, so that nothing is trimmed and a follow backfills every
/// post: a follower's expected timeline is then every acknowledged post of its authors.
const CAP: usize = 2_000;
/// Fan-out is asynchronous, and a debug build on 2 cores is slow: every wait polls this long.
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_loses_acked_writes_and_the_replay_repairs_them() {
    let began = Instant::now();
    let cap = CAP.to_string();
    let mut stack = Stack::start_with(|b| {
        b.redis_replicas(1)
            .env(
                Service::Fanout,
                &[
                    ("FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE", "false"),
                    ("FEEDLINE_TIMELINE_CAP", &cap),
                    ("FEEDLINE_BACKFILL_POSTS", &cap),
                ],
            )
            // Admission control would refuse writes while fan-out lags (it does, during the
            // outage): here every write is accepted, so that a follow, an unfollow and a delete
            // issued during the outage wait in the outbox for the relay to resend.
            .env(Service::Post, &[("FEEDLINE_ADMISSION_MAX_LAG_MS", "0")])
    })
    .await;
    let authors = users(&stack, "author", AUTHORS).await;
    let mut fans = BTreeMap::new();
    for (a, &author) in authors.iter().enumerate() {
        let followers = users(&stack, &format!("fan{a}_"), FANS_PER_AUTHOR).await;
        join_all(followers.iter().map(|&fan| stack.follow(fan, author))).await;
        fans.insert(author, followers);
    }
    // carol follows author 0 and dave unfollows it, during the pause (_p) and during the
    // outage (_o); all four timelines live on the master that is killed.
    let (victim, [carol_p, dave_p, carol_o, dave_o]) = victim_and_its_users(&stack).await;
    let author = authors[0];
    stack.follow(dave_p, author).await;
    stack.follow(dave_o, author).await;
    let doomed = [
        stack.post(author, "deleted p").await,
        stack.post(author, "deleted o").await,
    ];
    for fan in &fans[&author] {
        wait_for_member(&stack, *fan, doomed[1].post_id).await;
    }
    eprintln!(
        "setup done after {:?}: carol_p {carol_p} dave_p {dave_p} carol_o {carol_o} \
         dave_o {dave_o}, deleting {} and {}",
        began.elapsed(),
        doomed[0].post_id,
        doomed[1].post_id
    );

    let stop = CancellationToken::new();
    let load = tokio::spawn(load(stack.social.clone(), authors.clone(), stop.clone()));
    let load_began = Instant::now();
    tokio::time::sleep(LOAD_BEFORE).await; // the load runs meanwhile

    let master = stack.cluster.master_addrs()[victim];
    let replica = stack.cluster.replica_of(master).await.unwrap();
    stack.cluster.pause_node(replica).unwrap();
    let paused = Instant::now();
    assert_eq!(stack.cluster.cut_replicas(master).await.unwrap(), 1);
    stack.follow(carol_p, author).await;
    stack.unfollow(dave_p, author).await;
    stack.delete(&doomed[0]).await;
    // On the master (alone) before it dies, so that their loss is certain.
    let applied = eventually(
        "pause-time writes on the master",
        MAX_PAUSE_WAIT,
        || async {
            anyhow::ensure!(
                !stack.timeline(carol_p).await.is_empty(),
                "carol not backfilled"
            );
            anyhow::ensure!(
                stack.timeline(dave_p).await.is_empty(),
                "dave still has posts"
            );
            anyhow::ensure!(served(&stack, &fans[&author], doomed[0].post_id).await == 0);
            Ok(())
        },
    )
    .await;
    if let Some(rest) = MIN_PAUSE.checked_sub(paused.elapsed()) {
        tokio::time::sleep(rest).await; // the load goes on against the master alone
    }
    let killed = stack.cluster.kill_master(victim).unwrap();
    stack.cluster.resume_node(replica).unwrap();
    let pause = paused.elapsed();
    stack.follow(carol_o, author).await;
    stack.unfollow(dave_o, author).await;
    stack.delete(&doomed[1]).await;
    let promoted = stack
        .cluster
        .wait_for_failover(killed, DEADLINE)
        .await
        .unwrap();
    let outage = paused.elapsed() - pause;
    eprintln!(
        "paused {replica} {pause:?} (writes on the master: {applied:?}), killed {killed}, \
         {promoted} promoted {outage:?} later"
    );
    tokio::time::sleep(LOAD_AFTER).await; // the load runs meanwhile
    stop.cancel();
    let posts = load.await.unwrap();
    let rate = posts.len() as f64 / load_began.elapsed().as_secs_f64();
    eprintln!("{} posts acknowledged, {rate:.0}/s", posts.len());

    let deleted: HashSet<i64> = doomed.iter().map(|p| p.post_id).collect();
    let mut expected: Vec<(i64, Vec<i64>)> = Vec::new();
    for (&a, followers) in &fans {
        let list = newest_first(posts.iter().filter(|p| p.author_id == a), &deleted);
        assert!(list.len() < CAP, "keep every post under the cap");
        expected.extend(followers.iter().map(|&fan| (fan, list.clone())));
    }
    let authors_posts = newest_first(posts.iter().filter(|p| p.author_id == author), &deleted);
    expected.extend([carol_p, carol_o].map(|carol| (carol, authors_posts.clone())));
    expected.extend([dave_p, dave_o].map(|dave| (dave, Vec::new())));
    let mut expected = Expected {
        timelines: expected,
        deleted,
        author,
    };
    // Every event was applied once each author's last post reached every fan of theirs.
    eventually("fan-out caught up with the load", DEADLINE, || async {
        for (&a, followers) in &fans {
            let last = posts
                .iter()
                .filter(|p| p.author_id == a)
                .map(|p| p.post_id)
                .max();
            for &fan in followers {
                anyhow::ensure!(
                    has_member(&stack, fan, last.unwrap()).await?,
                    "{fan} behind"
                );
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    let before = Damage::count(&stack, &expected).await;
    eprintln!("before the repair: {}", before.summary());
    assert!(
        before.missing > 0,
        "the pause makes the loss certain: {before:?}"
    );

    let repair = Instant::now();
    let mut fanout = FanoutServiceClient::new(stack.fanout.channel().await.unwrap());
    let request = ReplayOutboxRequest { since_minutes: 0 };
    assert!(
        fanout
            .replay_outbox(request)
            .await
            .unwrap()
            .into_inner()
            .sent
    );
    eventually("the replay repairs every timeline", DEADLINE, || {
        repaired(&stack, &expected)
    })
    .await
    .unwrap();
    eprintln!("repaired in {:?}", repair.elapsed());
    // The relay takes no new row until its replay is answered: once a post made now is
    // delivered, the replay is over, and nothing it sent re-added an entry late.
    for (a, followers) in &fans {
        let last = stack.post(*a, "after the replay").await.post_id;
        for (user, list) in &mut expected.timelines {
            if followers.contains(user) || (*a == author && [carol_p, carol_o].contains(user)) {
                list.insert(0, last);
            }
        }
    }
    eventually("posts after the replay delivered", DEADLINE, || {
        repaired(&stack, &expected)
    })
    .await
    .unwrap();
    eprintln!("replay over {:?} after it was asked", repair.elapsed());
    let after = Damage::count(&stack, &expected).await;
    eprintln!("after the repair: {}", after.summary());

    stack.cluster.restart_node(killed).await.unwrap();
    assert!(!stack.cluster.master_addrs().contains(&killed));
    assert_eq!(stack.cluster.replica_of(promoted).await.unwrap(), killed);
    eprintln!("whole test {:?}", began.elapsed());
    stack.stop().await;
}

mod damage;

use damage::*;
