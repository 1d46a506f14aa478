//! The one place where feed-read-service errors become gRPC statuses.

use std::time::Duration;

use feedline_service_kit::status::{invalid_argument, with_retry_after};
use fred::error::ErrorKind;
use tonic::{Code, Status};

use crate::error::FeedError;

impl From<FeedError> for Status {
    fn from(err: FeedError) -> Self {
        let unavailable = |what: &str| {
            with_retry_after(
                Code::Unavailable,
                format!("{what} unavailable; retry with backoff"),
                Duration::from_secs(1),
            )
        };
        match err {
            FeedError::InvalidArgument(violations) => invalid_argument(&violations),
            FeedError::UserNotFound(user) => Status::not_found(format!("user {user} not found")),
            FeedError::Unauthenticated(why) => Status::unauthenticated(why),
            FeedError::PermissionDenied(why) => Status::permission_denied(why),
            FeedError::NotReady(why) => {
                with_retry_after(Code::Unavailable, why, Duration::from_secs(1))
            }
            FeedError::Redis(error) if matches!(error.kind(), ErrorKind::Parse) => {
                tracing::error!(%error, "unexpected redis reply");
                Status::internal("internal error")
            }
            FeedError::Redis(error) => {
                tracing::warn!(%error, "redis cluster unavailable");
                unavailable("redis cluster")
            }
            FeedError::DeadlineExceeded(rpc) => {
                tracing::warn!(rpc, "deadline exceeded waiting for post-service");
                Status::deadline_exceeded("the deadline passed while waiting for post-service")
            }
            FeedError::PostService {
                rpc,
                message,
                unavailable: true,
            } => {
                tracing::warn!(rpc, %message, "post-service unavailable");
                unavailable("post-service")
            }
            FeedError::PostService { rpc, message, .. } => {
                // The cause stays in our logs; the caller gets a short, stable message.
                tracing::error!(rpc, %message, "post-service failed");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_each_error_to_its_code() {
        let io = fred::error::Error::new(ErrorKind::IO, "reset");
        let parse = fred::error::Error::new(ErrorKind::Parse, "bad");
        let post = |unavailable| FeedError::PostService {
            rpc: "BatchGetPosts",
            message: "x".into(),
            unavailable,
        };
        let cases = [
            (
                FeedError::InvalidArgument(Vec::new()),
                Code::InvalidArgument,
            ),
            (FeedError::UserNotFound(3), Code::NotFound),
            (FeedError::NotReady("starting"), Code::Unavailable),
            (FeedError::Redis(io), Code::Unavailable),
            (FeedError::Redis(parse), Code::Internal),
            (
                FeedError::DeadlineExceeded("ListFolloweePosts"),
                Code::DeadlineExceeded,
            ),
            (post(true), Code::Unavailable),
            (post(false), Code::Internal),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }
}
