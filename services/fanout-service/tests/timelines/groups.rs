//! Malformed events, a dead cluster, and a group of many authors and follows that replays to the same state.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_permanent_and_ping_sees_a_dead_cluster() {
    let mut stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let post = Post {
        post_id: 42,
        author_id: 7,
        body: "x".into(),
        create_time: None,
    };
    let malformed = [
        FanoutEvent::default(),
        event(Kind::DeliverPost(DeliverPost { post: None })),
        deliver(&post),
        event(Kind::RetractPost(RetractPost {
            post_id: 0,
            author_id: 7,
        })),
        event(Kind::AddFollow(AddFollow {
            follower_id: -1,
            followee_id: 7,
        })),
    ];
    for event in &malformed {
        let error = timelines.apply(event).await.unwrap_err();
        assert!(
            matches!(error, TimelineError::Malformed(_)),
            "{event:?}: {error}"
        );
        assert!(error.is_permanent());
    }

    timelines.ping().await.expect("cluster up");
    stack.cluster.stop();
    let error = timelines.ping().await.expect_err("cluster down");
    assert!(!error.is_permanent(), "{error}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_many_authors_and_follows_lands_exactly_and_replays_converge() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let (a, b, c) = (
        stack.user("user_a").await,
        stack.user("user_b").await,
        stack.user("user_c").await,
    );
    let (r1, r2, r3, r4) = (
        stack.user("user_r1").await,
        stack.user("user_r2").await,
        stack.user("user_r3").await,
        stack.user("user_r4").await,
    );
    for (reader, authors) in [(r1, vec![a, b]), (r2, vec![b, c]), (r3, vec![a, b, c])] {
        for author in authors {
            stack.follow(reader, author).await;
        }
    }
    let mut posts = Vec::new();
    for (author, body) in [(a, "a1"), (b, "b1"), (c, "c1"), (a, "a2"), (b, "b2")] {
        posts.push(stack.post(author, body).await);
    }
    let [a1, b1, c1, a2, b2] = [0, 1, 2, 3, 4].map(|i| posts[i].post_id);
    // b2 is deleted and its retraction applied before its delivery: it must land nowhere.
    stack.delete(&posts[4]).await;
    let retract = event(Kind::RetractPost(RetractPost {
        post_id: b2,
        author_id: b,
    }));
    timelines.apply(&retract).await.unwrap();

    let group: Vec<FanoutEvent> = posts.iter().map(deliver).collect();
    let refs: Vec<&FanoutEvent> = group.iter().collect();
    let applied = timelines.apply_deliveries(&refs).await.unwrap();
    assert_eq!(applied.recipients, vec![2, 3, 2, 2, 0]);
    assert_eq!(
        applied.total.recipients, 3,
        "three timelines, one ZADD each"
    );
    let expected = [
        (r1, vec![a2, b1, a1]),
        (r2, vec![c1, b1]),
        (r3, vec![a2, c1, b1, a1]),
        (r4, vec![]),
    ];
    for (reader, want) in &expected {
        assert_eq!(&timelines.timeline(*reader, 10).await.unwrap(), want);
    }
    let tombstone: String = stack.redis.get(format!("pc:{{{b2}}}")).await.unwrap();
    assert_eq!(tombstone, "", "the delivery kept the tombstone");

    // A replayed mixed group (the same posts in another order, plus a new one) converges: every
    // timeline holds exactly what it held plus the new post, with the same scores.
    let mut before = Vec::new();
    for (reader, _) in &expected {
        before.push(stack.zrange(&format!("tl:{{{reader}}}")).await);
    }
    let a3 = stack.post(a, "a3").await;
    let mut replay: Vec<FanoutEvent> = group.iter().rev().cloned().collect();
    replay.push(deliver(&a3));
    let refs: Vec<&FanoutEvent> = replay.iter().collect();
    timelines.apply_deliveries(&refs).await.unwrap();
    for ((reader, _), earlier) in expected.iter().zip(&before) {
        let mut want = earlier.clone();
        if [r1, r3].contains(reader) {
            want.push((member(a3.post_id), millis(&a3)));
        }
        let got = stack.zrange(&format!("tl:{{{reader}}}")).await;
        assert_eq!(got, want, "timeline of {reader} after the replay");
    }

    // Follows of several followees in one group: each backfill lands, in one ZADD per follower.
    let r5 = stack.user("user_r5").await;
    stack.follow(r5, a).await;
    stack.follow(r5, c).await;
    let follows: Vec<FanoutEvent> = [a, c]
        .map(|followee| {
            event(Kind::AddFollow(AddFollow {
                follower_id: r5,
                followee_id: followee,
            }))
        })
        .into();
    let refs: Vec<&FanoutEvent> = follows.iter().collect();
    let applied = timelines.apply_follows(&refs).await.unwrap();
    assert_eq!(applied.recipients, vec![1, 1]);
    assert_eq!(applied.total.recipients, 1);
    assert_eq!(
        timelines.timeline(r5, 10).await.unwrap(),
        vec![a3.post_id, a2, c1, a1]
    );

    // Trims apply to a group's ZADD as to one post's: the newest `cap` stay, and the sentinel.
    let small = stack.timelines(TimelineConfig {
        timeline_cap: 3,
        trim_every: 1,
        ..TimelineConfig::default()
    });
    let key = format!("tl:{{{r3}}}");
    let () = stack
        .redis
        .zadd(&key, None, None, false, false, (0.0, "0"))
        .await
        .unwrap();
    let mut newer = Vec::new();
    for (author, body) in [(a, "a4"), (b, "b4"), (c, "c4"), (a, "a5"), (b, "b5")] {
        newer.push(stack.post(author, body).await);
    }
    let group: Vec<FanoutEvent> = newer.iter().map(deliver).collect();
    let refs: Vec<&FanoutEvent> = group.iter().collect();
    small.apply_deliveries(&refs).await.unwrap();
    let newest: Vec<i64> = newer.iter().rev().take(3).map(|p| p.post_id).collect();
    assert_eq!(small.timeline(r3, 10).await.unwrap(), newest);
    let size: usize = stack.redis.zcard(&key).await.unwrap();
    assert_eq!(size, 4, "the cap and the sentinel");
    stack.stop().await;
}
