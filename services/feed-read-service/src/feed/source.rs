//! post-service, for what Redis lacks: cache misses, missing timelines, an unbuilt follower index.
//!
//! Every call carries a timeout derived from the read's own deadline
//! ([`feedline_service_kit::outgoing_timeout`], at most [`CALL_TIMEOUT`]) and is retried on
//! UNAVAILABLE through one [`RetryPolicy`] shared by every clone: jittered backoff, never past
//! the read's deadline, and a budget that keeps post-service from seeing over 1.2x the calls.

use std::collections::HashSet;

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{GetMeRequest, ListFollowingRequest};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::{BatchGetPostsRequest, ListFolloweePostsRequest, Post};
use feedline_service_kit::auth::Credential;
use feedline_service_kit::retry::DEADLINE_MARGIN;
use feedline_service_kit::{
    Backoff, ClientChannel, RetryPolicy, client_channel, is_retryable_status, outgoing_request,
};
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;

use crate::error::FeedError;

/// Followees per ListFollowing page: the contract's maximum.
const FOLLOWING_PAGE: i32 = 1000;
/// One call's timeout when the read's deadline leaves more.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts per call, budget and deadline permitting.
const ATTEMPTS: u32 = 3;
/// Pauses between attempts: jittered under a ceiling from 20 ms, doubling to 200 ms (a read
/// waits for them).
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(200));
/// The largest answer taken from post-service: a timeline's worth of the largest posts.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// post-service's API; calls carry the trace context of the read that makes them.
#[derive(Clone)]
pub struct PostSource {
    posts: PostServiceClient<ClientChannel>,
    graph: GraphServiceClient<ClientChannel>,
    /// Shared by clones: one retry budget for post-service.
    retry: RetryPolicy,
}

impl PostSource {
    /// Talks to post-service over `channel` (lazy or connected; reconnects are the channel's).
    pub fn new(channel: Channel, credential: &Credential) -> Self {
        Self {
            // A rebuild asks for up to a timeline's cap of posts (800 of up to ~8 KB each):
            // more than tonic's default 4 MiB answer.
            posts: PostServiceClient::new(client_channel(channel.clone(), credential))
                .max_decoding_message_size(MAX_ANSWER_BYTES),
            graph: GraphServiceClient::new(client_channel(channel, credential)),
            retry: RetryPolicy::new("post-service", BACKOFF, ATTEMPTS),
        }
    }

    /// Calls made to post-service, and retries among them: to measure amplification.
    pub fn retry_counts(&self) -> (u64, u64) {
        self.retry.counts()
    }

    /// The user bound to the subject of the token in `authorization` (the caller's own
    /// `Bearer ...` metadata, forwarded), or None when it has none.
    pub async fn me(&self, authorization: &str) -> Result<Option<i64>, FeedError> {
        let value: tonic::metadata::MetadataValue<_> = authorization.parse().map_err(|_| {
            FeedError::Unauthenticated("the authorization metadata is not valid".into())
        })?;
        let answer = self
            .retry
            .run(
                || {
                    let mut graph = self.graph.clone();
                    let mut request = outgoing_request(GetMeRequest {}, CALL_TIMEOUT);
                    request
                        .metadata_mut()
                        .insert("authorization", value.clone());
                    async move { graph.get_me(request).await }
                },
                is_retryable_status,
            )
            .await;
        match answer {
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
        let request = BatchGetPostsRequest {
            post_ids: ids.to_vec(),
        };
        let answer = self
            .retry
            .grpc(&self.posts, &request, CALL_TIMEOUT, |mut c, r| async move {
                c.batch_get_posts(r).await
            })
            .await
            .map_err(|status| source_error("BatchGetPosts", &status))?;
        Ok((answer.posts, answer.missing_post_ids))
    }

    /// The newest `max` live posts of the users `user` follows, newest first.
    pub async fn followee_posts(&self, user: i64, max: usize) -> Result<Vec<Post>, FeedError> {
        let request = ListFolloweePostsRequest {
            user_id: user,
            max_posts: Some(i32::try_from(max).unwrap_or(i32::MAX)),
        };
        let answer = self
            .retry
            .grpc(&self.posts, &request, CALL_TIMEOUT, |mut c, r| async move {
                c.list_followee_posts(r).await
            })
            .await;
        match answer {
            Ok(answer) => Ok(answer.posts),
            Err(status) if status.code() == Code::NotFound => Err(FeedError::UserNotFound(user)),
            Err(status) => Err(source_error("ListFolloweePosts", &status)),
        }
    }

    /// Everyone `user` follows.
    pub async fn following(&self, user: i64) -> Result<HashSet<i64>, FeedError> {
        let mut ids = HashSet::new();
        let mut page_token = String::new();
        loop {
            let request = ListFollowingRequest {
                user_id: user,
                page_size: Some(FOLLOWING_PAGE),
                page_token,
            };
            let page = self
                .retry
                .grpc(&self.graph, &request, CALL_TIMEOUT, |mut c, r| async move {
                    c.list_following(r).await
                })
                .await
                .map_err(|status| source_error("ListFollowing", &status))?;
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
    // A call whose timeout was the rest of the read's deadline (tonic's own timeout answers
    // CANCELLED): the read is out of time, which says nothing of post-service's health.
    let timed_out = matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled);
    if timed_out && deadline_spent() {
        return FeedError::DeadlineExceeded(rpc);
    }
    FeedError::PostService {
        rpc,
        message: format!("{:?}: {}", status.code(), status.message()),
        unavailable: matches!(
            status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled
        ),
    }
}

/// Whether the read's deadline is all but spent: no more is left than twice the margin an
/// outgoing call leaves it ([`DEADLINE_MARGIN`]).
fn deadline_spent() -> bool {
    feedline_service_kit::inbound_deadline().is_some_and(|deadline| {
        deadline.saturating_duration_since(tokio::time::Instant::now()) <= 2 * DEADLINE_MARGIN
    })
}
