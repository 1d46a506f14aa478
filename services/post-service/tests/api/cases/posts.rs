//! Posts: idempotent create, bad input, the outbox event of each write, delete, batch get, author pages.

use super::*;

pub async fn create_post_is_idempotent_per_author_key(s: &TestServer) {
    let (a, b) = (user(s, "heidi").await, user(s, "ivan").await);
    let first = post(s, a.user_id, "hello", "k1").await;
    let again = post(s, a.user_id, "hello", "k1").await;
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.post, again.post, "a replay returns the same post");
    // Keys are per author.
    let other = post(s, b.user_id, "hello", "k1").await;
    assert!(other.created);
    assert_ne!(
        other.post.unwrap().post_id,
        first.post.as_ref().unwrap().post_id
    );
    // The same key with another body is a mistake, not a replay.
    let status = s
        .posts
        .clone()
        .create_post(CreatePostRequest {
            author_id: a.user_id,
            body: "different".into(),
            idempotency_key: "k1".into(),
        })
        .await
        .unwrap_err();
    assert_violation(&status, "idempotency_key");
    // Without a key, every call is a new post.
    let x = post(s, a.user_id, "same", "").await.post.unwrap();
    let y = post(s, a.user_id, "same", "").await.post.unwrap();
    assert!(y.post_id > x.post_id, "ids are time-ordered");
    let delivers = outbox_events(s)
        .await
        .into_iter()
        .filter(|(k, _)| k == "deliver_post")
        .count();
    assert_eq!(
        delivers, 4,
        "one event per created post, none for the replay"
    );
}

pub async fn create_post_rejects_bad_input(s: &TestServer) {
    let a = user(s, "judy").await;
    let mut posts = s.posts.clone();
    let long = "x".repeat(2001);
    let long_key = "k".repeat(129);
    let cases: [(i64, &str, &str, &str); 7] = [
        (a.user_id, "", "", "body"),
        (a.user_id, "  \n ", "", "body"),
        (a.user_id, &long, "", "body"),
        (a.user_id, "nul\0", "", "body"),
        (0, "hi", "", "author_id"),
        (123_456_789, "hi", "", "author_id"),
        (a.user_id, "hi", &long_key, "idempotency_key"),
    ];
    for (author_id, body, key, field) in cases {
        let status = posts
            .create_post(CreatePostRequest {
                author_id,
                body: body.into(),
                idempotency_key: key.into(),
            })
            .await
            .unwrap_err();
        assert_violation(&status, field);
    }
    // Exactly 2000 characters (multi-byte) is fine.
    assert!(post(s, a.user_id, &"é".repeat(2000), "").await.created);
    assert_eq!(outbox_events(s).await.len(), 1);
}

pub async fn every_write_commits_one_outbox_event(s: &TestServer) {
    let (a, b) = (user(s, "kim").await, user(s, "lee").await);
    follow(s, b.user_id, a.user_id).await;
    let p = post(s, a.user_id, "to be deleted", "").await.post.unwrap();
    s.posts
        .clone()
        .delete_post(DeletePostRequest {
            post_id: p.post_id,
            author_id: a.user_id,
        })
        .await
        .unwrap();
    s.graph
        .clone()
        .unfollow(UnfollowRequest {
            follower_id: b.user_id,
            followee_id: a.user_id,
        })
        .await
        .unwrap();
    let events = outbox_events(s).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "add_follow",
            "deliver_post",
            "retract_post",
            "remove_follow"
        ]
    );
    match &events[1].1 {
        Kind::DeliverPost(d) => {
            assert_eq!(d.post.as_ref(), Some(&p), "the event carries the post")
        }
        other => panic!("unexpected {other:?}"),
    }
    match &events[2].1 {
        Kind::RetractPost(r) => assert_eq!((r.post_id, r.author_id), (p.post_id, a.user_id)),
        other => panic!("unexpected {other:?}"),
    }
    match &events[0].1 {
        Kind::AddFollow(f) => {
            assert_eq!((f.follower_id, f.followee_id), (b.user_id, a.user_id))
        }
        other => panic!("unexpected {other:?}"),
    }
}

pub async fn delete_post_hides_it_everywhere(s: &TestServer) {
    let (a, b) = (user(s, "mia").await, user(s, "ned").await);
    let p = post(s, a.user_id, "bye", "").await.post.unwrap();
    let mut posts = s.posts.clone();
    let del = |post_id, author_id| DeletePostRequest { post_id, author_id };
    let status = posts
        .delete_post(del(p.post_id, b.user_id))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "another author's post is not found"
    );
    let status = posts.delete_post(del(1, a.user_id)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_violation(
        &posts.delete_post(del(0, a.user_id)).await.unwrap_err(),
        "post_id",
    );
    assert_violation(
        &posts.delete_post(del(p.post_id, 0)).await.unwrap_err(),
        "author_id",
    );

    assert!(
        posts
            .delete_post(del(p.post_id, a.user_id))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    assert!(
        !posts
            .delete_post(del(p.post_id, a.user_id))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    let status = posts
        .get_post(GetPostRequest { post_id: p.post_id })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let batch = posts
        .batch_get_posts(BatchGetPostsRequest {
            post_ids: vec![p.post_id],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(batch.posts.is_empty());
    assert_eq!(batch.missing_post_ids, [p.post_id]);
    let listed = posts
        .list_author_posts(ListAuthorPostsRequest {
            author_id: a.user_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.posts.is_empty());
    let retracts = outbox_events(s)
        .await
        .into_iter()
        .filter(|(k, _)| k == "retract_post")
        .count();
    assert_eq!(retracts, 1, "deleting twice retracts once");
}

pub async fn batch_get_posts_answers_in_order(s: &TestServer) {
    let a = user(s, "olga").await;
    let p1 = post(s, a.user_id, "one", "").await.post.unwrap();
    let p2 = post(s, a.user_id, "two", "").await.post.unwrap();
    let mut posts = s.posts.clone();
    let got = posts
        .batch_get_posts(BatchGetPostsRequest {
            post_ids: vec![p2.post_id, 31337, p1.post_id, p2.post_id],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.posts, [p2.clone(), p1.clone()]);
    assert_eq!(got.missing_post_ids, [31337]);
    let status = posts
        .batch_get_posts(BatchGetPostsRequest { post_ids: vec![] })
        .await
        .unwrap_err();
    assert_violation(&status, "post_ids");
    let status = posts
        .batch_get_posts(BatchGetPostsRequest {
            post_ids: (1..=101).collect(),
        })
        .await
        .unwrap_err();
    assert_violation(&status, "post_ids");
    let status = posts
        .batch_get_posts(BatchGetPostsRequest {
            post_ids: vec![p1.post_id, -3],
        })
        .await
        .unwrap_err();
    assert_violation(&status, "post_ids[1]");
    let status = posts
        .get_post(GetPostRequest { post_id: 0 })
        .await
        .unwrap_err();
    assert_violation(&status, "post_id");
    let status = posts
        .get_post(GetPostRequest { post_id: 31337 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let got = posts
        .get_post(GetPostRequest {
            post_id: p1.post_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.post, Some(p1));
}

pub async fn author_posts_page_newest_first_while_posts_arrive(s: &TestServer) {
    let a = user(s, "pia").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            post(s, a.user_id, &format!("post {i}"), "")
                .await
                .post
                .unwrap()
                .post_id,
        );
    }
    ids.reverse();
    let mut posts = s.posts.clone();
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let page = posts
            .list_author_posts(ListAuthorPostsRequest {
                author_id: a.user_id,
                page_size: Some(2),
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.posts.iter().map(|p| p.post_id));
        // New posts land above the cursor: later pages neither shift nor repeat.
        post(s, a.user_id, "newer", "").await;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);
}
