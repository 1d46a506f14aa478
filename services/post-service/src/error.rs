//! The one error type of post-service's domain; mapped to gRPC codes in `api/status.rs`.

use std::time::Duration;

use feedline_service_kit::validation::FieldViolation;

/// What can go wrong in post-service. `Clone`: one failed group commit is every call's error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input is wrong; each violation names its field.
    #[error("invalid argument: {0:?}")]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist (or is deleted).
    #[error("{0}")]
    NotFound(String),
    /// A unique resource with this identity exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The write queue is full (SQLite group commit): nothing of the call was written; retry
    /// after `retry_after`.
    #[error("write queue full")]
    QueueFull {
        /// How long the caller should wait.
        retry_after: Duration,
    },
    /// The database cannot be reached now (down, pool exhausted, not yet migrated); retryable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Too much fan-out is queued: the write was refused before it touched the database.
    #[error("overloaded: {reason}")]
    Overloaded {
        /// Which bound was passed.
        reason: String,
        /// When the caller should try again.
        retry_after: std::time::Duration,
    },
    /// The acting user made as many writes of `quota` as its window allows: the write was
    /// refused before it touched the database.
    #[error("rate limited: user {user} made {limit} {} in its window", quota.name())]
    RateLimited {
        /// What was counted.
        quota: crate::rate_limit::Quota,
        /// The acting user.
        user: i64,
        /// Writes allowed per window.
        limit: u32,
        /// The window.
        window: Duration,
        /// Until the window ends.
        retry_after: Duration,
    },
    /// The call carries no verified credential.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The credential is valid but may not do this (act as another user, say).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A fault of ours; the cause is logged where it is mapped, the caller sees a short message.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// A single field violation.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

impl From<feedline_service_kit::auth::CallerError> for Error {
    fn from(error: feedline_service_kit::auth::CallerError) -> Self {
        use feedline_service_kit::auth::CallerError;
        match error {
            CallerError::Unauthenticated => Self::Unauthenticated(error.to_string()),
            CallerError::PermissionDenied(reason) => Self::PermissionDenied(reason),
        }
    }
}

/// Shorthand for results in post-service.
pub type Result<T, E = Error> = std::result::Result<T, E>;
