//! post-service's graph and post APIs as tests use them: one call per line, a panic on error
//! (which is the test failing).
#![allow(clippy::unwrap_used)]

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest, UnfollowRequest};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{CreatePostRequest, DeletePostRequest, Post};
use tonic::transport::Channel;

/// Clients of a running post-service.
#[derive(Clone)]
pub struct Social {
    pub graph: GraphServiceClient<Channel>,
    pub posts: PostServiceClient<Channel>,
}

impl Social {
    /// Both clients over `channel` (to post-service).
    pub fn new(channel: Channel) -> Self {
        Self {
            graph: GraphServiceClient::new(channel.clone()),
            posts: PostServiceClient::new(channel),
        }
    }

    /// Creates a user; returns its id.
    pub async fn user(&self, handle: &str) -> i64 {
        let request = CreateUserRequest {
            handle: handle.into(),
            display_name: String::new(),
            subject: String::new(),
        };
        let response = self.graph.clone().create_user(request).await.unwrap();
        response.into_inner().user.unwrap().user_id
    }

    pub async fn follow(&self, follower_id: i64, followee_id: i64) {
        let request = FollowRequest {
            follower_id,
            followee_id,
        };
        self.graph.clone().follow(request).await.unwrap();
    }

    pub async fn unfollow(&self, follower_id: i64, followee_id: i64) {
        let request = UnfollowRequest {
            follower_id,
            followee_id,
        };
        self.graph.clone().unfollow(request).await.unwrap();
    }

    /// Creates a post (no idempotency key); returns it.
    pub async fn post(&self, author_id: i64, body: &str) -> Post {
        let request = CreatePostRequest {
            author_id,
            body: body.into(),
            idempotency_key: String::new(),
        };
        let response = self.posts.clone().create_post(request).await.unwrap();
        response.into_inner().post.unwrap()
    }

    pub async fn delete(&self, post: &Post) {
        let request = DeletePostRequest {
            post_id: post.post_id,
            author_id: post.author_id,
        };
        self.posts.clone().delete_post(request).await.unwrap();
    }
}
