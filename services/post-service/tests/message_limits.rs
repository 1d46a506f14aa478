//! Message size limits of post-service over real gRPC: a request over the 4 MiB a server
//! decodes (tonic's default) is refused OUT_OF_RANGE before any handler runs, nothing of it is
//! written, and the service goes on serving on the same connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use common::TestServer;
use feedline_proto::graph::v1::CreateUserRequest;
use feedline_proto::post::v1::{CreatePostRequest, ListAuthorPostsRequest};
use feedline_test_harness::Backend;
use tonic::Code;

/// The largest message post-service decodes: tonic's default, the README's "4 MiB".
const MAX_DECODING_BYTES: usize = 4 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_and_the_service_keeps_serving() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let user = CreateUserRequest {
        handle: "big".into(),
        display_name: String::new(),
        subject: String::new(),
    };
    let created = s.graph.clone().create_user(user).await.unwrap();
    let author_id = created.into_inner().user.unwrap().user_id;
    // A client that sends whatever it is given: the server's limit is under test.
    let mut posts = s.posts.clone().max_encoding_message_size(usize::MAX);
    let post = |body: String| CreatePostRequest {
        author_id,
        body,
        idempotency_key: String::new(),
    };

    let status = posts
        .create_post(post("x".repeat(MAX_DECODING_BYTES + 1)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    // Just under the limit the message is decoded, and the body's own limit answers.
    let status = posts
        .create_post(post("x".repeat(MAX_DECODING_BYTES - 64)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Still serving, on the same connection; the refused calls wrote nothing.
    let created = posts.create_post(post("small".into())).await.unwrap();
    let post_id = created.into_inner().post.unwrap().post_id;
    let listed = posts
        .list_author_posts(ListAuthorPostsRequest {
            author_id,
            page_size: Some(100),
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<i64> = listed.posts.iter().map(|p| p.post_id).collect();
    assert_eq!(ids, [post_id]);
    s.stop().await;
}
