//! Where follower lists and author posts come from when Redis lacks them: post-service.
//!
//! Each page is one call with a timeout ([`CALL_TIMEOUT`]: rebuilds run for the fan-out stream,
//! with no inbound deadline), retried on UNAVAILABLE through one [`RetryPolicy`] per source,
//! whose budget keeps a failing post-service from seeing more than 1.2x the calls.

use feedline_proto::graph::v1::ListFollowersRequest;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{ListAuthorPostsRequest, Post};
use feedline_service_kit::auth::Credential;
use feedline_service_kit::{Backoff, ClientChannel, RetryPolicy, client_channel};
use std::time::Duration;
use tonic::transport::Channel;

use super::TimelineError;

/// Followers per ListFollowers page: the contract's maximum.
const FOLLOWER_PAGE: i32 = 1000;
/// Posts per ListAuthorPosts page: the contract's maximum.
const POST_PAGE: usize = 100;
/// One call's timeout when no inbound deadline is shorter.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per call, budget permitting.
const ATTEMPTS: u32 = 3;
/// Pauses between attempts: jittered under a ceiling from 50 ms, doubling to 1 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));

/// The source of truth that rebuilds a missing follower index or author post list.
#[tonic::async_trait]
pub trait GraphSource: Send + Sync + 'static {
    /// Every follower id of `author_id`.
    async fn followers(&self, author_id: i64) -> Result<Vec<i64>, TimelineError>;
    /// Up to `limit` of the author's live (not deleted) posts, newest first.
    async fn latest_posts(&self, author_id: i64, limit: usize) -> Result<Vec<Post>, TimelineError>;
}

/// [`GraphSource`] over post-service's gRPC API.
#[derive(Clone)]
pub struct PostServiceSource {
    graph: GraphServiceClient<ClientChannel>,
    posts: PostServiceClient<ClientChannel>,
    /// Shared by clones: one retry budget for post-service.
    retry: RetryPolicy,
}

impl PostServiceSource {
    /// Talks to post-service over `channel` (lazy or connected; reconnects are the channel's).
    /// Calls carry the trace context, so rebuilds show up in the trace of their event.
    pub fn new(channel: Channel, credential: &Credential) -> Self {
        Self {
            graph: GraphServiceClient::new(client_channel(channel.clone(), credential)),
            posts: PostServiceClient::new(client_channel(channel, credential)),
            retry: RetryPolicy::new("post-service", BACKOFF, ATTEMPTS),
        }
    }
}

#[tonic::async_trait]
impl GraphSource for PostServiceSource {
    #[tracing::instrument(skip(self))]
    async fn followers(&self, author_id: i64) -> Result<Vec<i64>, TimelineError> {
        let mut ids = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListFollowersRequest {
                user_id: author_id,
                page_size: Some(FOLLOWER_PAGE),
                page_token,
            };
            let page = self
                .retry
                .grpc(&self.graph, &request, CALL_TIMEOUT, |mut c, r| async move {
                    c.list_followers(r).await
                })
                .await
                .map_err(|status| source_error("ListFollowers", &status))?;
            ids.extend(page.follower_ids);
            if page.next_page_token.is_empty() {
                return Ok(ids);
            }
            page_token = page.next_page_token;
        }
    }

    #[tracing::instrument(skip(self))]
    async fn latest_posts(&self, author_id: i64, limit: usize) -> Result<Vec<Post>, TimelineError> {
        let mut posts = Vec::new();
        let mut page_token = String::new();
        while posts.len() < limit {
            let want = (limit - posts.len()).min(POST_PAGE);
            let request = ListAuthorPostsRequest {
                author_id,
                // At most POST_PAGE (100), so the conversion cannot fail.
                page_size: Some(i32::try_from(want).unwrap_or(100)),
                page_token,
            };
            let page = self
                .retry
                .grpc(&self.posts, &request, CALL_TIMEOUT, |mut c, r| async move {
                    c.list_author_posts(r).await
                })
                .await
                .map_err(|status| source_error("ListAuthorPosts", &status))?;
            posts.extend(page.posts);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        posts.truncate(limit);
        Ok(posts)
    }
}

/// Keeps the code and message: the ack's message is what an operator sees.
fn source_error(rpc: &str, status: &tonic::Status) -> TimelineError {
    TimelineError::Source(format!(
        "post-service {rpc}: {:?}: {}",
        status.code(),
        status.message()
    ))
}
