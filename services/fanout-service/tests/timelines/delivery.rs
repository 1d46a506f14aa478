//! Delivery: once per follower, per-node pipelines, celebrities recorded but not fanned out, retraction.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_lands_once_per_follower_and_a_replay_changes_nothing() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    timelines.ping().await.expect("every master answers");
    let author = stack.user("author").await;
    let mut followers = Vec::new();
    for handle in ["fan1", "fan2", "fan3"] {
        let follower = stack.user(handle).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    let post = stack.post(author, "hello").await;

    let applied = timelines.apply(&deliver(&post)).await.unwrap();
    assert_eq!(applied.recipients, 3);
    let mut keys: Vec<String> = followers.iter().map(|f| format!("tl:{{{f}}}")).collect();
    keys.push(format!("ap:{{{author}}}"));
    let mut before = Vec::new();
    for key in &keys {
        before.push(stack.zrange(key).await);
    }
    for (follower, timeline) in followers.iter().zip(&before) {
        assert_eq!(timeline, &vec![(member(post.post_id), millis(&post))]);
        assert_eq!(
            timelines.timeline(*follower, 10).await.unwrap(),
            vec![post.post_id]
        );
    }
    let own = before.last().unwrap();
    assert_eq!(own[0], ("0".to_owned(), 0.0), "ap: is marked built");
    assert_eq!(own[1], (member(post.post_id), millis(&post)));
    let cached: Vec<u8> = stack
        .redis
        .get(format!("pc:{{{}}}", post.post_id))
        .await
        .unwrap();
    assert_eq!(Post::decode(cached.as_slice()).unwrap(), post);
    let index: HashSet<String> = stack
        .redis
        .smembers(format!("fl:{{{author}}}"))
        .await
        .unwrap();
    let mut want: HashSet<String> = followers.iter().map(ToString::to_string).collect();
    want.insert("0".to_owned());
    assert_eq!(index, want);

    let again = timelines.apply(&deliver(&post)).await.unwrap();
    assert_eq!(again.recipients, 3);
    for (key, earlier) in keys.iter().zip(&before) {
        assert_eq!(&stack.zrange(key).await, earlier, "{key} changed on replay");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_all_500_followers_in_per_node_pipelines() {
    let stack = Stack::start().await;
    let author = stack.user("author").await;
    let mut followers = Vec::new();
    for i in 0..500 {
        let follower = stack.user(&format!("fan{i}")).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    let timelines = stack.timelines(TimelineConfig::default());
    let first = stack.post(author, "to five hundred").await;
    let started = Instant::now();
    let applied = timelines.apply(&deliver(&first)).await.unwrap();
    let cold = started.elapsed();
    let second = stack.post(author, "again").await;
    let started = Instant::now();
    let warm = timelines.apply(&deliver(&second)).await.unwrap();
    let warm_time = started.elapsed();
    eprintln!(
        "deliver to 500: {cold:?} with the index rebuilt from post-service ({applied:?}), \
         {warm_time:?} with it in Redis ({warm:?})"
    );

    for result in [applied, warm] {
        assert_eq!(result.recipients, 500);
        assert!(result.pipelines > 1, "more than one node used: {result:?}");
        assert!(
            result.pipelines <= 3 * result.commands.div_ceil(1000),
            "{result:?}"
        );
    }
    for &follower in &followers {
        let timeline = timelines.timeline(follower, 10).await.unwrap();
        assert_eq!(timeline, vec![second.post_id, first.post_id]);
    }

    // Smaller pipelines: the same writes, split further, and a replay still changes nothing.
    let small = stack.timelines(TimelineConfig {
        max_pipeline: 100,
        ..TimelineConfig::default()
    });
    let replay = small.apply(&deliver(&second)).await.unwrap();
    assert!(replay.pipelines >= 500 / 100, "{replay:?}");
    for &follower in &followers {
        assert_eq!(
            stack
                .redis
                .zcard::<u64, _>(format!("tl:{{{follower}}}"))
                .await
                .unwrap(),
            2
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_celebrity_post_is_recorded_but_not_fanned_out() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        celebrity_threshold: 2,
        ..TimelineConfig::default()
    });
    let author = stack.user("celebrity").await;
    let mut followers = Vec::new();
    for handle in ["fan1", "fan2", "fan3"] {
        let follower = stack.user(handle).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    // Twice: the first rebuilds the index, the second finds it in Redis.
    for body in ["one", "two"] {
        let post = stack.post(author, body).await;
        let applied = timelines.apply(&deliver(&post)).await.unwrap();
        assert_eq!(applied.recipients, 0);
        assert_eq!(applied.pipelines, 0);
        let own = stack.zrange(&format!("ap:{{{author}}}")).await;
        assert!(
            own.contains(&(member(post.post_id), millis(&post))),
            "{own:?}"
        );
    }
    for follower in followers {
        let exists: u64 = stack
            .redis
            .exists(format!("tl:{{{follower}}}"))
            .await
            .unwrap();
        assert_eq!(exists, 0, "no timeline written for {follower}");
    }
    // Listed, so that readers pull the author's posts instead.
    let listed: bool = stack
        .redis
        .sismember("celebrities", author.to_string())
        .await
        .unwrap();
    assert!(listed, "the author is listed as a celebrity");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retract_removes_the_post_everywhere_and_tombstones_the_cache() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let author = stack.user("author").await;
    let (f1, f2) = (stack.user("fan1").await, stack.user("fan2").await);
    stack.follow(f1, author).await;
    stack.follow(f2, author).await;
    let kept = stack.post(author, "kept").await;
    let gone = stack.post(author, "gone").await;
    for post in [&kept, &gone] {
        timelines.apply(&deliver(post)).await.unwrap();
    }
    assert_eq!(
        timelines.timeline(f1, 10).await.unwrap(),
        vec![gone.post_id, kept.post_id]
    );

    stack.delete(&gone).await;
    let retract = event(Kind::RetractPost(RetractPost {
        post_id: gone.post_id,
        author_id: author,
    }));
    let applied = timelines.apply(&retract).await.unwrap();
    assert_eq!(applied.recipients, 2);
    for follower in [f1, f2] {
        assert_eq!(
            timelines.timeline(follower, 10).await.unwrap(),
            vec![kept.post_id]
        );
    }
    let own = stack.zrange(&format!("ap:{{{author}}}")).await;
    assert_eq!(
        own,
        vec![("0".to_owned(), 0.0), (member(kept.post_id), millis(&kept))]
    );
    let cache_key = format!("pc:{{{}}}", gone.post_id);
    let tombstone: String = stack.redis.get(&cache_key).await.unwrap();
    assert_eq!(tombstone, "");
    let ttl: i64 = stack.redis.ttl(&cache_key).await.unwrap();
    assert!(ttl > 0, "the tombstone expires: {ttl}");

    // A late replay of the delivery neither resurrects the cache nor the timeline entries.
    let late = timelines.apply(&deliver(&gone)).await.unwrap();
    assert_eq!(late.recipients, 0);
    let tombstone: String = stack.redis.get(&cache_key).await.unwrap();
    assert_eq!(tombstone, "");
    assert_eq!(
        timelines.timeline(f2, 10).await.unwrap(),
        vec![kept.post_id]
    );
    assert_eq!(stack.zrange(&format!("ap:{{{author}}}")).await, own);
    // And the retraction itself is idempotent.
    timelines.apply(&retract).await.unwrap();
    assert_eq!(
        timelines.timeline(f1, 10).await.unwrap(),
        vec![kept.post_id]
    );
    stack.stop().await;
}
