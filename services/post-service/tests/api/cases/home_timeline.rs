//! ListFolloweePosts: the posts of everyone a user follows, as a home timeline rebuild reads them.

use super::*;

pub async fn followee_posts_are_the_home_timeline(s: &TestServer) {
    let reader = user(s, "reader").await.user_id;
    let (a, b, c) = (
        user(s, "author_a").await.user_id,
        user(s, "author_b").await.user_id,
        user(s, "author_c").await.user_id,
    );
    follow(s, reader, a).await;
    follow(s, reader, b).await;
    // Someone else's edges must neither leak C in nor repeat A's posts.
    let other = user(s, "other_reader").await.user_id;
    follow(s, other, a).await;
    follow(s, other, c).await;
    let mut written = Vec::new();
    for i in 0..3 {
        for author in [a, b, c] {
            let created = post(s, author, &format!("post {i}"), "").await;
            written.push(created.post.unwrap());
        }
    }
    let gone = written.iter().find(|p| p.author_id == a).unwrap().clone();
    s.posts
        .clone()
        .delete_post(DeletePostRequest {
            post_id: gone.post_id,
            author_id: a,
        })
        .await
        .unwrap();
    let timeline = |authors: &[i64]| {
        let mut expected: Vec<Post> = written
            .iter()
            .filter(|p| authors.contains(&p.author_id) && p.post_id != gone.post_id)
            .cloned()
            .collect();
        expected.sort_by_key(|p| std::cmp::Reverse(p.post_id));
        expected
    };
    let mut posts = s.posts.clone();
    let list = |user_id, max_posts| ListFolloweePostsRequest { user_id, max_posts };

    let got = posts
        .list_followee_posts(list(reader, None))
        .await
        .unwrap()
        .into_inner()
        .posts;
    assert_eq!(
        got,
        timeline(&[a, b]),
        "A's and B's live posts, newest first"
    );
    assert_eq!(got.len(), 5);
    let newest = posts
        .list_followee_posts(list(reader, Some(2)))
        .await
        .unwrap()
        .into_inner()
        .posts;
    assert_eq!(newest, timeline(&[a, b])[..2]);

    s.graph
        .clone()
        .unfollow(UnfollowRequest {
            follower_id: reader,
            followee_id: b,
        })
        .await
        .unwrap();
    let got = posts
        .list_followee_posts(list(reader, Some(1000)))
        .await
        .unwrap()
        .into_inner()
        .posts;
    assert_eq!(got, timeline(&[a]), "B's posts left with the edge");

    // A user who exists but has nothing to read gets an empty answer, not NOT_FOUND.
    let lonely = user(s, "lonely").await.user_id;
    let got = posts
        .list_followee_posts(list(lonely, None))
        .await
        .unwrap()
        .into_inner();
    assert!(got.posts.is_empty());
    let status = posts
        .list_followee_posts(list(424_242, None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    for bad in [0, -7] {
        let status = posts
            .list_followee_posts(list(bad, None))
            .await
            .unwrap_err();
        assert_violation(&status, "user_id");
    }
    for bad in [0, -1, 1001] {
        let status = posts
            .list_followee_posts(list(reader, Some(bad)))
            .await
            .unwrap_err();
        assert_violation(&status, "max_posts");
    }
    // Every violation is reported at once.
    let status = posts
        .list_followee_posts(list(0, Some(0)))
        .await
        .unwrap_err();
    assert_violation(&status, "user_id");
    assert_violation(&status, "max_posts");
}
