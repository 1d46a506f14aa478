//! Follows and unfollows: backfill, removal, the index; trimming near the cap.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_backfills_the_newest_posts() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        backfill_posts: 2,
        ..TimelineConfig::default()
    });
    let author = stack.user("author").await;
    let mut posts = Vec::new();
    for body in ["one", "two", "three"] {
        posts.push(stack.post(author, body).await.post_id);
    }
    let (early, late) = (stack.user("early").await, stack.user("late").await);
    // The first follow finds no ap: and rebuilds it from post-service; the second reads it.
    for follower in [early, late] {
        stack.follow(follower, author).await;
        let follow = event(Kind::AddFollow(AddFollow {
            follower_id: follower,
            followee_id: author,
        }));
        let applied = timelines.apply(&follow).await.unwrap();
        assert_eq!(applied.recipients, 1);
        assert_eq!(
            timelines.timeline(follower, 10).await.unwrap(),
            vec![posts[2], posts[1]]
        );
        let indexed: bool = stack
            .redis
            .sismember(format!("fl:{{{author}}}"), follower.to_string())
            .await
            .unwrap();
        assert!(indexed, "{follower} is in the follower index");
    }
    let own = stack.zrange(&format!("ap:{{{author}}}")).await;
    assert_eq!(own.len(), 4, "sentinel and all three posts: {own:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_removes_the_followees_posts_and_the_index_entry() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let (alice, bob, reader) = (
        stack.user("alice").await,
        stack.user("bob").await,
        stack.user("reader").await,
    );
    stack.follow(reader, alice).await;
    stack.follow(reader, bob).await;
    let mut posts = Vec::new();
    for (author, body) in [(alice, "a1"), (bob, "b1"), (alice, "a2")] {
        let post = stack.post(author, body).await;
        timelines.apply(&deliver(&post)).await.unwrap();
        posts.push(post.post_id);
    }
    assert_eq!(timelines.timeline(reader, 10).await.unwrap().len(), 3);

    stack.unfollow(reader, alice).await;
    let unfollow = event(Kind::RemoveFollow(RemoveFollow {
        follower_id: reader,
        followee_id: alice,
    }));
    let applied = timelines.apply(&unfollow).await.unwrap();
    assert_eq!(applied.recipients, 1);
    assert_eq!(
        timelines.timeline(reader, 10).await.unwrap(),
        vec![posts[1]]
    );
    let index: HashSet<String> = stack
        .redis
        .smembers(format!("fl:{{{alice}}}"))
        .await
        .unwrap();
    assert_eq!(index, HashSet::from(["0".to_owned()]));
    // Idempotent, and a later post of alice no longer reaches the reader.
    timelines.apply(&unfollow).await.unwrap();
    let after = stack.post(alice, "a3").await;
    assert_eq!(
        timelines.apply(&deliver(&after)).await.unwrap().recipients,
        0
    );
    assert_eq!(
        timelines.timeline(reader, 10).await.unwrap(),
        vec![posts[1]]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimming_keeps_a_timeline_near_its_cap() {
    const CAP: usize = 50;
    const TRIM_EVERY: u64 = 4;
    // The trim decision is a hash of the ids: a run of misses this long has odds of ~1e-6.
    const SLACK: usize = 12 * TRIM_EVERY as usize;
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        timeline_cap: CAP,
        trim_every: TRIM_EVERY,
        ..TimelineConfig::default()
    });
    let author = stack.user("prolific").await;
    let reader = stack.user("reader").await;
    stack.follow(reader, author).await;
    let key = format!("tl:{{{reader}}}");
    // Built, as feed-read-service builds a timeline: the trims must spare the sentinel.
    let () = stack
        .redis
        .zadd(&key, None, None, false, false, (0.0, "0"))
        .await
        .unwrap();
    let mut posts = Vec::new();
    for i in 0..3 * CAP {
        let post = stack.post(author, &format!("post {i}")).await;
        timelines.apply(&deliver(&post)).await.unwrap();
        posts.push(post.post_id);
        let size: usize = stack.redis.zcard(&key).await.unwrap();
        assert!(size <= CAP + SLACK, "{size} entries after {} posts", i + 1);
        if i >= CAP {
            assert!(size >= CAP, "{size} entries after {} posts", i + 1);
        }
    }
    // What was trimmed is the oldest: the newest CAP posts are all there, in order.
    let newest: Vec<i64> = posts.iter().rev().take(CAP).copied().collect();
    assert_eq!(timelines.timeline(reader, CAP).await.unwrap(), newest);
    let sentinel: Option<f64> = stack.redis.zscore(&key, "0").await.unwrap();
    assert_eq!(sentinel, Some(0.0), "the trims spared the sentinel");
    let own: usize = stack.redis.zcard(format!("ap:{{{author}}}")).await.unwrap();
    assert_eq!(
        own,
        CAP + 1,
        "the author's list is capped exactly, plus its sentinel"
    );
    stack.stop().await;
}
