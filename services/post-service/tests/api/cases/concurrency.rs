//! Concurrent writes: retries of one post, follows of one user, mixed good and bad follows.

use super::*;

pub async fn concurrent_retries_create_one_post(s: &TestServer) {
    let a = user(s, "quinn").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut posts = s.posts.clone();
            tokio::spawn(async move {
                posts
                    .create_post(CreatePostRequest {
                        author_id: a.user_id,
                        body: "racing".into(),
                        idempotency_key: "race-key".into(),
                    })
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap().expect("every retry answers OK");
        created += usize::from(response.created);
        ids.insert(response.post.unwrap().post_id);
    }
    assert_eq!(ids.len(), 1, "every retry got the same post");
    assert_eq!(created, 1);
    assert_eq!(outbox_events(s).await.len(), 1);
}

pub async fn concurrent_follows_of_one_user_all_succeed(s: &TestServer) {
    let star = user(s, "rockstar").await;
    let mut fans = Vec::new();
    for i in 0..12 {
        fans.push(user(s, &format!("groupie_{i}")).await.user_id);
    }
    let tasks: Vec<_> = fans
        .iter()
        .map(|&fan| {
            let mut graph = s.graph.clone();
            tokio::spawn(async move {
                let a = graph
                    .follow(FollowRequest {
                        follower_id: fan,
                        followee_id: star.user_id,
                    })
                    .await;
                // And the reverse edge at the same time: the lock order must hold.
                let b = graph
                    .follow(FollowRequest {
                        follower_id: star.user_id,
                        followee_id: fan,
                    })
                    .await;
                (a, b)
            })
        })
        .collect();
    for task in tasks {
        let (a, b) = task.await.unwrap();
        assert!(a.expect("follow ok").into_inner().created);
        assert!(b.expect("reverse follow ok").into_inner().created);
    }
    let star_now = s
        .graph
        .clone()
        .get_user(GetUserRequest {
            user_id: star.user_id,
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (star_now.follower_count, star_now.following_count),
        (12, 12)
    );
}

/// Many Follows at once, some to unknown users and some identical (on SQLite they share
/// groups, one transaction each): every call gets its own answer, and only the good ones
/// leave an edge, counts and exactly one outbox row.
pub async fn concurrent_mixed_follows_each_get_their_own_answer(s: &TestServer) {
    let star = user(s, "mixstar").await.user_id;
    let mut fans = Vec::new();
    for i in 0..10 {
        fans.push(user(s, &format!("mixfan_{i}")).await.user_id);
    }
    fans.sort_unstable();
    let unknown = fans.last().unwrap() + 1000;
    // Each fan follows the star three times, and an unknown user once.
    let mut requests = Vec::new();
    for &fan in &fans {
        requests.extend([(fan, star), (fan, unknown), (fan, star), (fan, star)]);
    }
    let tasks: Vec<_> = requests
        .iter()
        .map(|&(follower_id, followee_id)| {
            let mut graph = s.graph.clone();
            tokio::spawn(async move {
                let request = FollowRequest {
                    follower_id,
                    followee_id,
                };
                graph.follow(request).await.map(|r| r.into_inner().created)
            })
        })
        .collect();
    let mut created = Vec::new();
    for (task, (follower, followee)) in tasks.into_iter().zip(&requests) {
        match task.await.unwrap() {
            Ok(true) => created.push(*follower),
            Ok(false) => assert_eq!(*followee, star, "only a repeat finds its edge"),
            Err(status) => {
                assert_eq!(*followee, unknown, "{status:?}");
                assert_violation(&status, "followee_id");
            }
        }
    }
    created.sort_unstable();
    assert_eq!(created, fans, "one Follow of each fan created its edge");
    let star_now = s
        .graph
        .clone()
        .get_user(GetUserRequest { user_id: star })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(star_now.follower_count, fans.len() as i64);
    let events = outbox_events(s).await;
    assert_eq!(events.len(), fans.len(), "one event per edge created");
    let mut followers: Vec<i64> = events
        .into_iter()
        .map(|(_, kind)| match kind {
            Kind::AddFollow(add) => {
                assert_eq!(add.followee_id, star);
                add.follower_id
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    followers.sort_unstable();
    assert_eq!(followers, fans);
}
