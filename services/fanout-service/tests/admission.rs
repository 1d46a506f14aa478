//! Admission control end to end: with fan-out stopped, post-service's writes turn
//! RESOURCE_EXHAUSTED (with RetryInfo) once the oldest unapplied event passes the bound;
//! nothing refused is in the database; once fan-out runs again every accepted post arrives and
//! writes are admitted again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::Stack;
use feedline_proto::graph::v1::{FollowRequest, ListFollowersRequest};
use feedline_proto::post::v1::{CreatePostRequest, ListAuthorPostsRequest};
use feedline_stack::Service;
use feedline_test_harness::{eventually, retry_delay};
use tonic::Code;

/// Fan-out is asynchronous: every wait polls with this deadline.
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_past_the_backlog_bound_and_nothing_accepted_is_lost() {
    // post-service relays to an address where no fanout-service runs yet: fan-out is stopped.
    let stopped = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stopped_addr = stopped.local_addr().unwrap();
    let stack = Stack::start_with(|builder| {
        builder.env(
            Service::Post,
            &[
                ("FEEDLINE_FANOUT_URL", &format!("http://{stopped_addr}")),
                ("FEEDLINE_ADMISSION_MAX_LAG_MS", "1000"),
                ("FEEDLINE_ADMISSION_REFRESH_MS", "20"),
            ],
        )
    })
    .await;
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let carol = stack.user("carol").await;
    stack.follow(bob, alice).await;

    // Post until the first refusal: the follow event ages past the bound within a second or so.
    let posts = stack.social.posts.clone();
    let accepted = RefCell::new(Vec::new());
    let refused = eventually("a write refused", DEADLINE, || async {
        let body = format!("post {}", accepted.borrow().len());
        let request = CreatePostRequest {
            author_id: alice,
            body: body.clone(),
            idempotency_key: body.clone(),
        };
        match posts.clone().create_post(request).await {
            Ok(reply) => {
                let post_id = reply.into_inner().post.unwrap().post_id;
                accepted.borrow_mut().push(post_id);
                anyhow::bail!("accepted")
            }
            Err(status) => Ok((status, body)),
        }
    })
    .await
    .unwrap();
    let accepted = accepted.into_inner();
    let (status, refused_body) = refused;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("behind"), "{}", status.message());
    assert!(retry_delay(&status).is_some(), "no RetryInfo in {status:?}");
    assert!(
        !accepted.is_empty(),
        "the bound refused before it was passed"
    );

    // Follow is refused the same way, and leaves no edge.
    let mut graph = stack.social.graph.clone();
    let follow = graph
        .follow(FollowRequest {
            follower_id: carol,
            followee_id: alice,
        })
        .await
        .unwrap_err();
    assert_eq!(follow.code(), Code::ResourceExhausted);
    let followers = graph
        .list_followers(ListFollowersRequest {
            user_id: alice,
            page_size: Some(100),
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ids = followers.follower_ids;
    assert_eq!(ids, vec![bob], "a refused follow left an edge");

    // Nothing refused is in the database: alice has exactly the accepted posts.
    let listed = posts
        .clone()
        .list_author_posts(ListAuthorPostsRequest {
            author_id: alice,
            page_size: Some(100),
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.posts.iter().all(|p| p.body != refused_body));
    let mut listed: Vec<i64> = listed.posts.iter().map(|p| p.post_id).collect();
    listed.sort_unstable();
    let mut expected = accepted.clone();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    // Fan-out resumes: every accepted post arrives, and writes are admitted again.
    let fanout = stack.start_fanout_on(stopped, &[]).await;
    let newest_first: Vec<i64> = accepted.iter().rev().copied().collect();
    stack.wait_for_timeline(bob, &newest_first, DEADLINE).await;
    eventually("writes admitted again", DEADLINE, || async {
        let again = posts
            .clone()
            .create_post(CreatePostRequest {
                author_id: alice,
                body: "after".into(),
                idempotency_key: "after".into(),
            })
            .await;
        match again {
            Ok(_) => Ok(()),
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                anyhow::bail!("{status:?}")
            }
        }
    })
    .await
    .unwrap();
    stack.stop().await;
    fanout.stop().await.unwrap();
}
