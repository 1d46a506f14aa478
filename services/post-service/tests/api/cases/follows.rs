//! The follow graph: follow, unfollow, counts, follower lists and their pages.

use super::*;

pub async fn follow_and_unfollow_are_idempotent_and_counted(s: &TestServer) {
    let (a, b) = (user(s, "carol").await, user(s, "dave").await);
    assert!(follow(s, b.user_id, a.user_id).await);
    assert!(
        !follow(s, b.user_id, a.user_id).await,
        "second follow changes nothing"
    );
    let mut graph = s.graph.clone();
    let get = |id| GetUserRequest { user_id: id };
    let a_now = graph
        .get_user(get(a.user_id))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let b_now = graph
        .get_user(get(b.user_id))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!((a_now.follower_count, a_now.following_count), (1, 0));
    assert_eq!((b_now.follower_count, b_now.following_count), (0, 1));
    let followers = graph
        .list_followers(ListFollowersRequest {
            user_id: a.user_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(followers.follower_ids, [b.user_id]);
    assert!(followers.next_page_token.is_empty());
    let following = graph
        .list_following(ListFollowingRequest {
            user_id: b.user_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(following.followee_ids, [a.user_id]);

    let unfollow = UnfollowRequest {
        follower_id: b.user_id,
        followee_id: a.user_id,
    };
    assert!(graph.unfollow(unfollow).await.unwrap().into_inner().removed);
    assert!(!graph.unfollow(unfollow).await.unwrap().into_inner().removed);
    let a_now = graph
        .get_user(get(a.user_id))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(a_now.follower_count, 0);
    // One add and one remove event: repeats wrote nothing.
    let kinds: Vec<String> = outbox_events(s).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["add_follow", "remove_follow"]);
}

pub async fn follow_rejects_bad_input(s: &TestServer) {
    let a = user(s, "erin").await;
    let mut graph = s.graph.clone();
    let cases = [
        (a.user_id, a.user_id, "followee_id"),
        (0, a.user_id, "follower_id"),
        (a.user_id, -1, "followee_id"),
        (999_999, a.user_id, "follower_id"),
        (a.user_id, 999_999, "followee_id"),
    ];
    for (follower_id, followee_id, field) in cases {
        let req = FollowRequest {
            follower_id,
            followee_id,
        };
        assert_violation(&graph.follow(req).await.unwrap_err(), field);
        let req = UnfollowRequest {
            follower_id,
            followee_id,
        };
        assert_violation(&graph.unfollow(req).await.unwrap_err(), field);
    }
    assert!(
        outbox_events(s).await.is_empty(),
        "rejected calls write nothing"
    );
}

pub async fn follower_lists_page_without_gaps(s: &TestServer) {
    let star = user(s, "star").await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let f = user(s, &format!("fan_{i}")).await;
        follow(s, f.user_id, star.user_id).await;
        expected.push(f.user_id);
    }
    expected.sort();
    let mut graph = s.graph.clone();
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let page = graph
            .list_followers(ListFollowersRequest {
                user_id: star.user_id,
                page_size: Some(3),
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.follower_ids);
        if pages == 1 {
            // A follower arriving mid-walk with a larger id appears later, never twice.
            let late = user(s, "late_fan").await;
            follow(s, late.user_id, star.user_id).await;
            expected.push(late.user_id);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

pub async fn list_rejects_bad_pages_and_tokens(s: &TestServer) {
    let (a, b) = (user(s, "frank").await, user(s, "grace").await);
    for i in 0..3 {
        let f = user(s, &format!("f_{i}")).await;
        follow(s, f.user_id, a.user_id).await;
    }
    let mut graph = s.graph.clone();
    let list = |user_id, page_size, page_token: &str| ListFollowersRequest {
        user_id,
        page_size,
        page_token: page_token.into(),
    };
    for size in [0, -1, 1001] {
        let status = graph
            .list_followers(list(a.user_id, Some(size), ""))
            .await
            .unwrap_err();
        assert_violation(&status, "page_size");
    }
    let token = graph
        .list_followers(list(a.user_id, Some(1), ""))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    let mut forged = token.clone();
    forged.replace_range(3..4, if &token[3..4] == "A" { "B" } else { "A" });
    for bad in ["garbage", "", &forged] {
        if bad.is_empty() {
            continue;
        }
        let status = graph
            .list_followers(list(a.user_id, None, bad))
            .await
            .unwrap_err();
        assert_violation(&status, "page_token");
    }
    // A token is bound to its listing and subject.
    let status = graph
        .list_followers(list(b.user_id, None, &token))
        .await
        .unwrap_err();
    assert_violation(&status, "page_token");
    let status = graph
        .list_following(ListFollowingRequest {
            user_id: a.user_id,
            page_size: None,
            page_token: token.clone(),
        })
        .await
        .unwrap_err();
    assert_violation(&status, "page_token");
    let status = graph
        .list_followers(list(777_777, None, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let following = |user_id, page_size| ListFollowingRequest {
        user_id,
        page_size,
        page_token: String::new(),
    };
    let status = graph.list_following(following(0, None)).await.unwrap_err();
    assert_violation(&status, "user_id");
    let status = graph
        .list_following(following(a.user_id, Some(0)))
        .await
        .unwrap_err();
    assert_violation(&status, "page_size");
    let status = graph
        .list_following(following(777_777, None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = s
        .posts
        .clone()
        .list_author_posts(ListAuthorPostsRequest {
            author_id: a.user_id,
            page_size: Some(101),
            page_token: token,
        })
        .await
        .unwrap_err();
    assert_violation(&status, "page_size");
    assert_violation(&status, "page_token");
}
