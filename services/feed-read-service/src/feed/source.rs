//! post-service, for what Redis lacks: cache misses, missing timelines, an unbuilt follower index.

use std::collections::HashSet;

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{GetMeRequest, ListFollowingRequest};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{BatchGetPostsRequest, ListFolloweePostsRequest, Post};
use feedline_service_kit::auth::Credential;
use feedline_service_kit::{ClientChannel, client_channel};
use tonic::Code;
use tonic::transport::Channel;

use crate::error::FeedError;

/// Followees per ListFollowing page: the contract's maximum.
const FOLLOWING_PAGE: i32 = 1000;

/// post-service's API; calls carry the trace context of the read that makes them.
#[derive(Clone)]
pub struct PostSource {
    posts: PostServiceClient<ClientChannel>,
    graph: GraphServiceClient<ClientChannel>,
}

impl PostSource {
    /// Talks to post-service over `channel` (lazy or connected; reconnects are the channel's).
    pub fn new(channel: Channel, credential: &Credential) -> Self {
        Self {
            posts: PostServiceClient::new(client_channel(channel.clone(), credential)),
            graph: GraphServiceClient::new(client_channel(channel, credential)),
        }
    }

    /// The user bound to the subject of the token in `authorization` (the caller's own
    /// `Bearer ...` metadata, forwarded), or None when it has none.
    pub async fn me(&self, authorization: &str) -> Result<Option<i64>, FeedError> {
        let mut request = tonic::Request::new(GetMeRequest {});
        let value = authorization.parse().map_err(|_| {
            FeedError::Unauthenticated("the authorization metadata is not valid".into())
        })?;
        request.metadata_mut().insert("authorization", value);
        match self.graph.clone().get_me(request).await {
            Ok(answer) => Ok(answer.into_inner().user.map(|user| user.user_id)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) if status.code() == Code::Unauthenticated => {
                Err(FeedError::Unauthenticated(status.message().to_owned()))
            }
            Err(status) => Err(source_error("GetMe", &status)),
        }
    }

    /// The posts of `ids` that exist and are not deleted, and the ids of the others.
    pub async fn batch_get(&self, ids: &[i64]) -> Result<(Vec<Post>, Vec<i64>), FeedError> {
        let answer = self
            .posts
            .clone()
            .batch_get_posts(BatchGetPostsRequest {
                post_ids: ids.to_vec(),
            })
            .await
            .map_err(|status| source_error("BatchGetPosts", &status))?
            .into_inner();
        Ok((answer.posts, answer.missing_post_ids))
    }

    /// The newest `max` live posts of the users `user` follows, newest first.
    pub async fn followee_posts(&self, user: i64, max: usize) -> Result<Vec<Post>, FeedError> {
        let request = ListFolloweePostsRequest {
            user_id: user,
            max_posts: Some(i32::try_from(max).unwrap_or(i32::MAX)),
        };
        match self.posts.clone().list_followee_posts(request).await {
            Ok(answer) => Ok(answer.into_inner().posts),
            Err(status) if status.code() == Code::NotFound => Err(FeedError::UserNotFound(user)),
            Err(status) => Err(source_error("ListFolloweePosts", &status)),
        }
    }

    /// Everyone `user` follows.
    pub async fn following(&self, user: i64) -> Result<HashSet<i64>, FeedError> {
        let mut graph = self.graph.clone();
        let mut ids = HashSet::new();
        let mut page_token = String::new();
        loop {
            let request = ListFollowingRequest {
                user_id: user,
                page_size: Some(FOLLOWING_PAGE),
                page_token,
            };
            let page = graph
                .list_following(request)
                .await
                .map_err(|status| source_error("ListFollowing", &status))?
                .into_inner();
            ids.extend(page.followee_ids);
            if page.next_page_token.is_empty() {
                return Ok(ids);
            }
            page_token = page.next_page_token;
        }
    }
}

/// Keeps the code and message for the operator.
fn source_error(rpc: &'static str, status: &tonic::Status) -> FeedError {
    FeedError::PostService {
        rpc,
        message: format!("{:?}: {}", status.code(), status.message()),
        unavailable: matches!(
            status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled
        ),
    }
}
