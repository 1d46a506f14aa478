//! Why a feed read failed: one enum for the service, mapped to a gRPC status in `api/status.rs`.

use feedline_service_kit::validation::FieldViolation;

/// A failed feed read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The request is malformed; each violation names its field.
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    /// post-service does not know the user.
    #[error("user {0} not found")]
    UserNotFound(i64),
    /// The Redis Cluster failed, timed out or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    /// post-service is unreachable or failed; `unavailable` when trying again can help.
    #[error("post-service {rpc}: {message}")]
    PostService {
        /// Which call failed.
        rpc: &'static str,
        /// Its status, for the operator.
        message: String,
        /// Whether it was UNAVAILABLE-like (connection, deadline) rather than a bug.
        unavailable: bool,
    },
    /// The read's own deadline ran out while it waited for post-service.
    #[error("deadline exceeded waiting for post-service {0}")]
    DeadlineExceeded(&'static str),
    /// The call carries no verified credential.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The credential may not read this feed.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The service is starting (not yet connected to the cluster) or stopping.
    #[error("not ready: {0}")]
    NotReady(&'static str),
}

impl From<feedline_service_kit::auth::CallerError> for FeedError {
    fn from(error: feedline_service_kit::auth::CallerError) -> Self {
        use feedline_service_kit::auth::CallerError;
        match error {
            CallerError::Unauthenticated => Self::Unauthenticated(error.to_string()),
            CallerError::PermissionDenied(reason) => Self::PermissionDenied(reason),
        }
    }
}
