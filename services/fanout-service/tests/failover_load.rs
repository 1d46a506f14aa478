//! Issue 15's acceptance: under fan-out load (about 200 posts/s, about 100 followers per author)
//! a master is SIGKILLed while its replica is paused and cut off, so its promotion certainly
//! loses writes the master acknowledged. With the automatic replay off, the test counts the
//! damage (it must find some: the test can fail), then `ReplayOutbox` repairs it: every
//! acknowledged post in every follower's timeline exactly once, in order, and a follow, an
//! unfollow and a delete issued during the pause and during the outage end right.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

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

/// The state a complete fan-out leaves.
struct Expected {
    /// Each checked user's timeline, newest first.
    timelines: Vec<(i64, Vec<i64>)>,
    /// The deleted posts, all by `author`.
    deleted: HashSet<i64>,
    author: i64,
}

/// What differs from the expected state, summed over every timeline.
#[derive(Debug, Default)]
struct Damage {
    /// Expected entries absent (acknowledged posts lost, a follow's backfill lost).
    missing: usize,
    /// Served entries present that must not be (a lost unfollow's or retraction's removals).
    unexpected: usize,
    /// Timelines whose served entries are not exactly their expected list (each post once,
    /// newest first).
    wrong_timelines: usize,
    /// Places a deleted post is still served from (a timeline or its cache, its tombstone lost)
    /// or listed in (its author's list, which backfills and unfollows read).
    deleted_served: usize,
    /// Entries of deleted posts whose tombstone is in place: never served (readers hydrate
    /// through `pc:` and drop them), but left in a timeline: still damage.
    dangling: usize,
    /// Whose timelines hold them.
    dangling_in: BTreeSet<i64>,
    /// Timelines that failed to read.
    unreadable: usize,
    /// The first few wrong entries, `user: +post` (there, not expected), `user: -post`
    /// (expected, not there) or `user: ~post` (dangling).
    examples: Vec<String>,
}

impl Damage {
    async fn count(stack: &Stack, expected: &Expected) -> Damage {
        let Expected {
            timelines,
            deleted,
            author,
            ..
        } = expected;
        let mut damage = Damage::default();
        let mut tombstoned = HashSet::new();
        for &post in deleted {
            let cached: Result<Option<String>, _> = stack.redis.get(keys::post_cache(post)).await;
            match cached.as_ref().map(|c| c.as_deref().unwrap_or_default()) {
                Ok("") => _ = tombstoned.insert(post),
                _ => damage.deleted_served += 1,
            }
            let listed: Result<Option<f64>, _> = stack
                .redis
                .zscore(keys::author_posts(*author), keys::member(post))
                .await;
            damage.deleted_served += usize::from(!matches!(listed, Ok(None)));
        }
        for (user, list) in timelines {
            let Ok(mut timeline) = stack.timelines.timeline(*user, 10_000).await else {
                damage.unreadable += 1;
                continue;
            };
            let dangling: Vec<i64> = timeline
                .extract_if(.., |p| tombstoned.contains(p))
                .collect();
            damage.dangling += dangling.len();
            if !dangling.is_empty() {
                damage.dangling_in.insert(*user);
            }
            let (want, got): (HashSet<_>, HashSet<_>) =
                (list.iter().collect(), timeline.iter().collect());
            let missing: Vec<_> = want.difference(&got).collect();
            let unexpected: Vec<_> = got.difference(&want).collect();
            damage.missing += missing.len();
            damage.unexpected += unexpected.len();
            damage.deleted_served += timeline.iter().filter(|p| deleted.contains(p)).count();
            damage.wrong_timelines += usize::from(timeline != *list);
            let wrong = (unexpected.iter().map(|p| format!("{user}: +{p}")))
                .chain(missing.iter().map(|p| format!("{user}: -{p}")))
                .chain(dangling.iter().map(|p| format!("{user}: ~{p}")));
            let room = 8 - damage.examples.len().min(8);
            damage.examples.extend(wrong.take(room));
        }
        damage
    }

    /// The counts, where the dangling entries are, and a few examples.
    fn summary(&self) -> String {
        format!(
            "{} missing, {} unexpected, {} timelines wrong, {} deleted served, {} dangling in \
             {} timelines ({:?}), {} unreadable; e.g. {:?}",
            self.missing,
            self.unexpected,
            self.wrong_timelines,
            self.deleted_served,
            self.dangling,
            self.dangling_in.len(),
            self.dangling_in.iter().take(4).collect::<Vec<_>>(),
            self.unreadable,
            self.examples
        )
    }

    /// Nothing differs: nothing served, and no dangling entry either. A replayed unfollow
    /// takes out of the former follower's timeline the followee's recent deletions (`ar:`)
    /// as well as the posts of `ap:`, so a post deleted after an unfollow whose removals the
    /// failover lost does not stay behind.
    fn is_none(&self) -> bool {
        let Damage {
            missing,
            unexpected,
            wrong_timelines,
            deleted_served,
            dangling,
            unreadable,
            ..
        } = *self;
        missing + unexpected + wrong_timelines + deleted_served + dangling + unreadable == 0
    }
}

/// Ok once nothing differs from `expected`.
async fn repaired(stack: &Stack, expected: &Expected) -> anyhow::Result<()> {
    let damage = Damage::count(stack, expected).await;
    anyhow::ensure!(damage.is_none(), "{}", damage.summary());
    Ok(())
}

/// How many of `users`' timelines hold `post`, plus one if its cache still holds it (an empty
/// string is the tombstone; an absent key is read from post-service, which knows).
async fn served(stack: &Stack, users: &[i64], post: i64) -> usize {
    let mut count = 0;
    for &user in users {
        count += usize::from(!matches!(has_member(stack, user, post).await, Ok(false)));
    }
    let cached: Result<Option<String>, _> = stack.redis.get(keys::post_cache(post)).await;
    let tombstoned = matches!(&cached, Ok(None)) || matches!(&cached, Ok(Some(v)) if v.is_empty());
    count + usize::from(!tombstoned)
}

async fn has_member(stack: &Stack, user: i64, post: i64) -> anyhow::Result<bool> {
    let score: Option<f64> = stack
        .redis
        .zscore(keys::timeline(user), keys::member(post))
        .await?;
    Ok(score.is_some())
}

async fn wait_for_member(stack: &Stack, user: i64, post: i64) {
    eventually("post delivered", DEADLINE, || async {
        anyhow::ensure!(has_member(stack, user, post).await?, "not yet");
        Ok(())
    })
    .await
    .unwrap();
}

/// `count` new users, `prefix0`, `prefix1`, ...
async fn users(stack: &Stack, prefix: &str, count: usize) -> Vec<i64> {
    let handles: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    join_all(handles.iter().map(|handle| stack.user(handle))).await
}

/// The index (in `master_addrs`) of the master whose slots hold the timelines of most of 16
/// new users, and four of those users.
async fn victim_and_its_users(stack: &Stack) -> (usize, [i64; 4]) {
    let routing = stack.redis.cached_cluster_state().expect("routing known");
    let masters = stack.cluster.master_addrs();
    let mut by_master: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for user in users(stack, "extra", 16).await {
        let slot = fred::util::redis_keyslot(keys::timeline(user).as_bytes());
        let server = routing.get_server(slot).expect("every slot served");
        let index = masters.iter().position(|m| m.port() == server.port);
        by_master
            .entry(index.expect("a known master"))
            .or_default()
            .push(user);
    }
    let (victim, users) = by_master.into_iter().max_by_key(|(_, u)| u.len()).unwrap();
    (
        victim,
        users[..4]
            .try_into()
            .expect("16 users over 3 masters: one has 6"),
    )
}

/// Post ids of `posts` less `deleted`, as a timeline orders them: by creation time, then id,
/// newest first.
fn newest_first<'a>(posts: impl Iterator<Item = &'a Post>, deleted: &HashSet<i64>) -> Vec<i64> {
    let mut entries: Vec<(i64, i64)> = posts
        .filter(|p| !deleted.contains(&p.post_id))
        .map(|p| {
            let created = p
                .create_time
                .as_ref()
                .and_then(feedline_proto::timestamp_to_millis);
            (created.expect("a post has a creation time"), p.post_id)
        })
        .collect();
    entries.sort_unstable_by(|a, b| b.cmp(a));
    entries.into_iter().map(|(_, id)| id).collect()
}

/// Creates posts at [`RATE`] per second, round-robin over `authors`, without waiting for the
/// answers (open loop), until `stop`; returns every acknowledged post. Every call must succeed:
/// post-service does not depend on Redis, and an unanswered call could have committed a post
/// that no expectation counts.
async fn load(social: Social, authors: Vec<i64>, stop: CancellationToken) -> Vec<Post> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE);
    let mut calls = JoinSet::new();
    for i in 0.. {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let request = CreatePostRequest {
            author_id: authors[i % authors.len()],
            body: format!("load {i}"),
            idempotency_key: String::new(),
        };
        let mut posts = social.posts.clone();
        calls.spawn(async move { posts.create_post(request).await });
    }
    let mut acked = Vec::new();
    while let Some(answer) = calls.join_next().await {
        acked.push(
            answer
                .unwrap()
                .expect("CreatePost")
                .into_inner()
                .post
                .unwrap(),
        );
    }
    acked
}
