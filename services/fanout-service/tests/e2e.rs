//! The fan-out path end to end: CreatePost / Follow / Unfollow / DeletePost on post-service, the
//! outbox relay, fanout-service, and the timelines in a real 3-master Redis Cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use common::Stack;
use feedline_test_harness::eventually;

/// Fan-out is asynchronous: every assertion polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_backfills_then_new_posts_arrive() {
    let stack = Stack::start(&[("FEEDLINE_BACKFILL_POSTS", "2")]).await;
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let carol = stack.user("carol").await;
    let dave = stack.user("dave").await;
    // carol follows first, so alice's follower index exists before bob arrives (the usual case;
    // an index rebuilt from post-service reflects the database at rebuild time).
    stack.follow(carol, alice).await;
    let mut old = Vec::new();
    for body in ["one", "two", "three"] {
        old.push(stack.post(alice, body).await.post_id);
    }
    stack
        .wait_for_timeline(carol, &[old[2], old[1], old[0]], DEADLINE)
        .await;
    stack.follow(bob, alice).await;
    // Backfill: the followee's 2 newest posts, newest first.
    stack
        .wait_for_timeline(bob, &[old[2], old[1]], DEADLINE)
        .await;
    let new = stack.post(alice, "four").await.post_id;
    stack
        .wait_for_timeline(bob, &[new, old[2], old[1]], DEADLINE)
        .await;
    assert!(
        stack.timeline(dave).await.is_empty(),
        "a non-follower gets nothing"
    );
    assert!(
        stack.timeline(alice).await.is_empty(),
        "an author's own timeline is not written"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_removes_posts_and_nothing_arrives_after() {
    let stack = Stack::start(&[]).await;
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let dave = stack.user("dave").await;
    stack.follow(bob, alice).await;
    let p1 = stack.post(alice, "before").await.post_id;
    stack.wait_for_timeline(bob, &[p1], DEADLINE).await;
    stack.unfollow(bob, alice).await;
    stack.wait_for_timeline(bob, &[], DEADLINE).await;
    let p2 = stack.post(alice, "after the unfollow").await.post_id;
    // Events of one author apply in order: once dave sees the marker, p2 was fanned out too.
    stack.follow(dave, alice).await;
    let p3 = stack.post(alice, "marker").await.post_id;
    stack.wait_for_timeline(dave, &[p3, p2, p1], DEADLINE).await;
    assert!(
        stack.timeline(bob).await.is_empty(),
        "nothing arrives after the unfollow"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_retracts_from_every_timeline() {
    let stack = Stack::start(&[]).await;
    let alice = stack.user("alice").await;
    let mut fans = Vec::new();
    for i in 0..5 {
        let fan = stack.user(&format!("fan_{i}")).await;
        stack.follow(fan, alice).await;
        fans.push(fan);
    }
    let keep = stack.post(alice, "keep").await;
    let gone = stack.post(alice, "delete me").await;
    for fan in &fans {
        stack
            .wait_for_timeline(*fan, &[gone.post_id, keep.post_id], DEADLINE)
            .await;
    }
    stack.delete(&gone).await;
    for fan in &fans {
        stack
            .wait_for_timeline(*fan, &[keep.post_id], DEADLINE)
            .await;
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_all_500_followers_exactly_once() {
    let stack = Stack::start(&[]).await;
    let author = stack.user("popular").await;
    let mut fans = Vec::new();
    for i in 0..500 {
        let fan = stack.user(&format!("f{i:03}")).await;
        stack.follow(fan, author).await;
        fans.push(fan);
    }
    let posts = [
        stack.post(author, "first").await.post_id,
        stack.post(author, "second").await.post_id,
    ];
    for fan in &fans {
        stack
            .wait_for_timeline(*fan, &[posts[1], posts[0]], DEADLINE)
            .await;
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_celebrity_is_not_fanned_out() {
    let stack = Stack::start(&[("FEEDLINE_CELEBRITY_THRESHOLD", "2")]).await;
    let star = stack.user("star").await;
    let (a, b, c, d) = (
        stack.user("a_fan").await,
        stack.user("b_fan").await,
        stack.user("c_fan").await,
        stack.user("d_user").await,
    );
    for fan in [a, b, c] {
        stack.follow(fan, star).await;
    }
    let post = stack.post(star, "too famous to fan out").await.post_id;
    // d follows after the post: a celebrity is pulled at read time, never backfilled.
    stack.follow(d, star).await;
    let later = stack.post(star, "still famous").await.post_id;
    assert_never_in_timelines(&stack, star, &[post, later], &[a, b, c, d]).await;
    stack.stop().await;
}

/// The source runs ahead of the event stream: a follow applied after its followee's `ap:` was
/// lost rebuilds it from post-service, which already lists a post created once the followee
/// had passed the threshold. The follower count must be at least as new as that list, or the
/// backfill copies the post (as the index said 2 followers when the list said 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_celebrity_is_not_backfilled_from_a_rebuilt_list() {
    const THRESHOLD: (&str, &str) = ("FEEDLINE_CELEBRITY_THRESHOLD", "2");
    // post-service relays to an address where fanout-service runs only when the test says.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_to = listener.local_addr().unwrap();
    let stack = Stack::start_with(|builder| {
        builder.env(
            feedline_stack::Service::Post,
            &[("FEEDLINE_FANOUT_URL", &format!("http://{relay_to}"))],
        )
    })
    .await;
    let star = stack.user("star").await;
    let (a, b, c) = (
        stack.user("a_fan").await,
        stack.user("b_fan").await,
        stack.user("c_fan").await,
    );
    stack.follow(a, star).await;
    let fanout = stack.start_fanout_on(listener, &[THRESHOLD]).await;
    stack.wait_for_follower_index(star, a, DEADLINE).await;
    fanout.stop().await.unwrap();
    let listener = tokio::net::TcpListener::bind(relay_to).await.unwrap();

    // While fan-out is stopped: `ap:` is lost, the followee passes the threshold and posts.
    let _: i64 = fred::prelude::KeysInterface::del(&stack.redis, format!("ap:{{{star}}}"))
        .await
        .unwrap();
    stack.follow(b, star).await;
    stack.follow(c, star).await;
    let post = stack
        .post(star, "posted with three followers")
        .await
        .post_id;

    let fanout = stack.start_fanout_on(listener, &[THRESHOLD]).await;
    assert_never_in_timelines(&stack, star, &[post], &[a, b, c]).await;
    fanout.stop().await.unwrap();
    stack.stop().await;
}

/// Waits until the delivery of `posts` (by `author`) began, then posts `author` a marker and
/// waits until its delivery began too: the marker cannot join the unit that applies `posts`
/// (it runs already), so every earlier event of the author has then been applied in full (one
/// author's events apply in order, one unit at a time). Then none of `posts` is in any of
/// `readers`' timelines, and `author` is listed as a celebrity.
async fn assert_never_in_timelines(stack: &Stack, author: i64, posts: &[i64], readers: &[i64]) {
    for &post in posts {
        stack.wait_for_author_list(author, post, DEADLINE).await;
    }
    let marker = stack.post(author, "marker").await.post_id;
    stack.wait_for_author_list(author, marker, DEADLINE).await;
    let listed: bool =
        fred::prelude::SetsInterface::sismember(&stack.redis, "celebrities", author.to_string())
            .await
            .unwrap();
    assert!(listed, "{author} is not listed as a celebrity");
    for &reader in readers {
        let timeline = stack.timeline(reader).await;
        let copied: Vec<&i64> = posts.iter().filter(|p| timeline.contains(p)).collect();
        assert!(
            copied.is_empty(),
            "no fan-out above the threshold: {reader}'s timeline holds {copied:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_cluster() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mut stack = Stack::start(&[]).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", stack.fanout.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel);
    stack.cluster.stop();
    eventually("NOT_SERVING with the cluster down", DEADLINE, || async {
        let status = health
            .clone()
            .check(HealthCheckRequest {
                service: "feedline.fanout.v1.FanoutService".into(),
            })
            .await?
            .into_inner()
            .status;
        anyhow::ensure!(status == ServingStatus::NotServing as i32, "still {status}");
        Ok(())
    })
    .await
    .unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_not_held_back_by_a_follow_backlog_of_other_users() {
    use feedline_proto::fanout::v1::fanout_event::Kind;
    use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
    use feedline_proto::fanout::v1::{AddFollow, DeliverPost, FanoutEvent, FanoutRequest};

    const FOLLOWS: i64 = 2000;
    let stack = Stack::start(&[]).await;
    let followees: Vec<i64> = {
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.push(stack.user(&format!("followee{i:02}")).await);
        }
        ids
    };
    let author = stack.user("author").await;
    let reader = stack.user("reader").await;
    stack.follow(reader, author).await;
    let post = stack.post(author, "not behind the follows").await;
    stack
        .wait_for_timeline(reader, &[post.post_id], DEADLINE)
        .await;

    // One stream: a backlog of follows of other users, then a (replayed) delivery of the post.
    let mut events: Vec<FanoutEvent> = (0..FOLLOWS)
        .map(|i| FanoutEvent {
            event_id: 1_000_000 + i,
            kind: Some(Kind::AddFollow(AddFollow {
                follower_id: 1_000_000 + i,
                followee_id: followees[i as usize % followees.len()],
            })),
            ..FanoutEvent::default()
        })
        .collect();
    events.push(FanoutEvent {
        event_id: 1_000_000 + FOLLOWS,
        kind: Some(Kind::DeliverPost(DeliverPost {
            post: Some(post.clone()),
        })),
        ..FanoutEvent::default()
    });
    let requests: Vec<FanoutRequest> = events
        .chunks(500)
        .map(|chunk| FanoutRequest {
            events: chunk.to_vec(),
        })
        .collect();
    let mut client = FanoutServiceClient::connect(stack.fanout.url())
        .await
        .unwrap();
    let mut acks = client
        .fanout(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut answered = Vec::new();
    let started = std::time::Instant::now();
    while answered.len() <= FOLLOWS as usize {
        let response = tokio::time::timeout(DEADLINE, acks.message())
            .await
            .expect("acks keep coming")
            .unwrap()
            .expect("stream open until every event is answered");
        answered.extend(response.acks);
        assert!(started.elapsed() < DEADLINE * 3, "not every event answered");
    }
    assert!(
        answered.iter().all(|a| a.outcome == 1),
        "every event applied"
    );
    let position = answered
        .iter()
        .position(|a| a.event_id == 1_000_000 + FOLLOWS)
        .unwrap();
    // Scheduled per key, the post runs in the first round beside the first group of follows,
    // not after the whole backlog (the follows fill several groups).
    assert!(
        position < FOLLOWS as usize / 2,
        "the post was answered after {position} of {FOLLOWS} follows"
    );
    stack.stop().await;
}
