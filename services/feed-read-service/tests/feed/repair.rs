//! Repairs: a missing timeline rebuilt, deleted posts never returned, cache misses fetched in one batch and written back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_timeline_is_rebuilt_after_a_delete_and_after_a_flush() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let (a, b) = (stack.user("alice").await, stack.user("bob").await);
    stack.follow(reader, a).await;
    stack.follow(reader, b).await;
    let mut posts = Vec::new();
    for i in 0..10 {
        posts.push(
            stack
                .post(if i % 2 == 0 { a } else { b }, &format!("p{i}"))
                .await,
        );
    }
    let expected = newest_first(&posts);
    stack.wait_for_feed(reader, &expected).await;

    let deleted: u64 = stack.redis.del(tl(reader)).await.unwrap();
    assert_eq!(deleted, 1);
    let (items, _) = stack.walk(reader, 4).await;
    assert_eq!(ids(&items), expected, "answered from the rebuilt timeline");
    let sentinel: Option<f64> = stack.redis.zscore(tl(reader), "0").await.unwrap();
    assert_eq!(sentinel, Some(0.0), "written back, built");

    // The whole cluster emptied (every key, every node): rebuilt and hydrated from post-service.
    let () = stack.redis.flushall_cluster().await.unwrap();
    let (items, _) = stack.walk(reader, 4).await;
    assert_eq!(ids(&items), expected);
    let bodies: Vec<&str> = items.iter().map(|p| p.body.as_str()).collect();
    let mut want: Vec<&str> = Vec::new();
    for id in &expected {
        want.push(&posts.iter().find(|p| p.post_id == *id).unwrap().body);
    }
    assert_eq!(bodies, want);
    let cached: u64 = stack.redis.exists(pc(expected[0])).await.unwrap();
    assert_eq!(cached, 1, "the rebuild cached the posts");

    // A timeline fanned into but never built (the fan-out ran while it was missing).
    let late = stack.post(a, "after the flush").await;
    let mut all = posts.clone();
    all.push(late);
    let () = stack.redis.del(tl(reader)).await.unwrap();
    stack.wait_for_feed(reader, &newest_first(&all)).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_post_is_never_returned() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let author = stack.user("author").await;
    stack.follow(reader, author).await;
    let mut posts = Vec::new();
    for i in 0..5 {
        posts.push(stack.post(author, &format!("p{i}")).await);
    }
    stack.wait_for_feed(reader, &newest_first(&posts)).await;
    let gone = posts.remove(2);
    stack.delete(&gone).await;
    let live = newest_first(&posts);
    stack.wait_for_feed(reader, &live).await;
    // The feed hid it at the tombstone; the retract may still be on its way to the timeline,
    // and would undo the re-insertion below.
    stack.wait_until_retracted(reader, gone.post_id).await;

    // A timeline the retract has not reached yet still holds it: the tombstone hides it.
    let score = feedline_proto::timestamp_to_millis(gone.create_time.as_ref().unwrap()).unwrap();
    let () = stack
        .redis
        .zadd(
            tl(reader),
            None,
            None,
            false,
            false,
            (score as f64, member(gone.post_id)),
        )
        .await
        .unwrap();
    let tombstone: String = stack.redis.get(pc(gone.post_id)).await.unwrap();
    assert_eq!(tombstone, "");
    assert_eq!(
        stack
            .walk(reader, 2)
            .await
            .0
            .iter()
            .map(|p| p.post_id)
            .collect::<Vec<_>>(),
        live
    );
    // The tombstone expired too: post-service says it is gone, and the reader remembers that.
    let () = stack.redis.del(pc(gone.post_id)).await.unwrap();
    assert_eq!(ids(&stack.walk(reader, 2).await.0), live);
    let tombstone: String = stack.redis.get(pc(gone.post_id)).await.unwrap();
    assert_eq!(tombstone, "", "written back as deleted");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_misses_are_fetched_in_one_batch_and_written_back() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let author = stack.user("author").await;
    stack.follow(reader, author).await;
    let mut posts = Vec::new();
    for i in 0..8 {
        posts.push(stack.post(author, &format!("body {i}")).await);
    }
    let expected = newest_first(&posts);
    stack.wait_for_feed(reader, &expected).await;
    for post in &posts {
        let () = stack.redis.del(pc(post.post_id)).await.unwrap();
    }
    let page = stack.get_feed(reader, Some(8), "").await.unwrap();
    let got: Vec<Post> = page.items.into_iter().map(|i| i.post.unwrap()).collect();
    let mut want: Vec<Post> = Vec::new();
    for id in &expected {
        want.push(posts.iter().find(|p| p.post_id == *id).unwrap().clone());
    }
    assert_eq!(got, want, "hydrated from post-service, whole");
    for post in &posts {
        let cached: Vec<u8> = stack.redis.get(pc(post.post_id)).await.unwrap();
        assert!(!cached.is_empty(), "post {} written back", post.post_id);
    }
    stack.stop().await;
}
