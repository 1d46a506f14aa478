//! post-service over real gRPC, the same suite on SQLite, PostgreSQL and MySQL/MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

feedline_test_harness::on_every_backend!(
    create_and_get_user,
    create_user_rejects_bad_input,
    duplicate_handle_is_already_exists,
    get_user_unknown_or_invalid,
    follow_and_unfollow_are_idempotent_and_counted,
    follow_rejects_bad_input,
    follower_lists_page_without_gaps,
    list_rejects_bad_pages_and_tokens,
    create_post_is_idempotent_per_author_key,
    create_post_rejects_bad_input,
    every_write_commits_one_outbox_event,
    delete_post_hides_it_everywhere,
    batch_get_posts_answers_in_order,
    author_posts_page_newest_first_while_posts_arrive,
    followee_posts_are_the_home_timeline,
    concurrent_retries_create_one_post,
    concurrent_follows_of_one_user_all_succeed,
    concurrent_mixed_follows_each_get_their_own_answer,
);

mod cases {
    use std::collections::HashSet;

    use feedline_proto::fanout::v1::FanoutEvent;
    use feedline_proto::fanout::v1::fanout_event::Kind;
    use feedline_proto::graph::v1::*;
    use feedline_proto::post::v1::*;
    use feedline_proto::prost::Message as _;
    use post_service::entity::outbox;
    use sea_orm::{EntityTrait as _, QueryOrder as _};
    use tonic::Code;

    use crate::common::{TestServer, assert_violation};

    async fn user(s: &TestServer, handle: &str) -> User {
        s.graph
            .clone()
            .create_user(CreateUserRequest {
                handle: handle.into(),
                display_name: format!("{handle} display"),
                subject: String::new(),
            })
            .await
            .expect("create user")
            .into_inner()
            .user
            .expect("user")
    }

    async fn post(s: &TestServer, author: i64, body: &str, key: &str) -> CreatePostResponse {
        s.posts
            .clone()
            .create_post(CreatePostRequest {
                author_id: author,
                body: body.into(),
                idempotency_key: key.into(),
            })
            .await
            .expect("create post")
            .into_inner()
    }

    async fn follow(s: &TestServer, follower: i64, followee: i64) -> bool {
        s.graph
            .clone()
            .follow(FollowRequest {
                follower_id: follower,
                followee_id: followee,
            })
            .await
            .expect("follow")
            .into_inner()
            .created
    }

    async fn outbox_events(s: &TestServer) -> Vec<(String, Kind)> {
        outbox::Entity::find()
            .order_by_asc(outbox::Column::Id)
            .all(&s.db)
            .await
            .expect("read outbox")
            .into_iter()
            .map(|row| {
                let event = FanoutEvent::decode(row.payload.as_slice()).expect("payload decodes");
                (row.kind, event.kind.expect("kind set"))
            })
            .collect()
    }

    pub async fn create_and_get_user(s: &TestServer) {
        let created = user(s, "Alice_01").await;
        assert!(created.user_id > 0);
        assert_eq!(
            created.handle, "alice_01",
            "handles are folded to lower case"
        );
        assert!(created.create_time.is_some());
        let got = s
            .graph
            .clone()
            .get_user(GetUserRequest {
                user_id: created.user_id,
            })
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        assert_eq!(got, created);
    }

    pub async fn create_user_rejects_bad_input(s: &TestServer) {
        let mut graph = s.graph.clone();
        for (handle, display_name, field) in [
            ("", "x", "handle"),
            ("ab", "x", "handle"),
            ("has space", "x", "handle"),
            (&*"h".repeat(31), "x", "handle"),
            ("fine_handle", &*"n".repeat(101), "display_name"),
            ("fine_handle", "bell\u{7}", "display_name"),
        ] {
            let status = graph
                .create_user(CreateUserRequest {
                    handle: handle.into(),
                    display_name: display_name.into(),
                    subject: String::new(),
                })
                .await
                .unwrap_err();
            assert_violation(&status, field);
        }
        // Every violation is reported at once.
        let status = graph
            .create_user(CreateUserRequest {
                handle: "!".into(),
                display_name: "n".repeat(101),
                subject: String::new(),
            })
            .await
            .unwrap_err();
        assert_violation(&status, "handle");
        assert_violation(&status, "display_name");
    }

    pub async fn duplicate_handle_is_already_exists(s: &TestServer) {
        user(s, "bob").await;
        let status = s
            .graph
            .clone()
            .create_user(CreateUserRequest {
                handle: "BOB".into(),
                display_name: String::new(),
                subject: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    }

    pub async fn get_user_unknown_or_invalid(s: &TestServer) {
        let mut graph = s.graph.clone();
        let status = graph
            .get_user(GetUserRequest { user_id: 424242 })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        for bad in [0, -5] {
            let status = graph
                .get_user(GetUserRequest { user_id: bad })
                .await
                .unwrap_err();
            assert_violation(&status, "user_id");
        }
    }

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
}
