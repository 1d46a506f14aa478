//! The one error type of log-ingest-service's domain; mapped to gRPC codes in `api/status.rs`.

use std::time::Duration;

use feedline_service_kit::validation::FieldViolation;

/// What can go wrong in log-ingest-service.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input is wrong; each violation names its field.
    #[error("invalid argument: {0:?}")]
    InvalidArgument(Vec<FieldViolation>),
    /// No `x-app-key`, a key no app has, or a revoked key.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this (an admin RPC without an admin credential).
    #[error("{0}")]
    PermissionDenied(String),
    /// The app or key the call names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A unique resource with this identity exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The ingest queue is full: nothing of the call was taken; retry after the delay.
    #[error("ingest queue full")]
    QueueFull {
        /// How long the caller should wait.
        retry_after: Duration,
    },
    /// The database cannot be reached (or the service is stopping); nothing of the call was
    /// acknowledged; retryable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The service is stopping and takes no more calls; retry on another replica.
    #[error("the service is shutting down")]
    ShuttingDown,
    /// A fault of ours; the cause is logged where it is mapped, the caller sees a short message.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// A single field violation.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// Whether a batch write that failed with this error is worth trying again: the database
    /// was unreachable or dropped the connection. Kept apart from the writer, as vector keeps
    /// its retry logic, so the policy reads in one place.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

/// Shorthand for results in log-ingest-service.
pub type Result<T, E = Error> = std::result::Result<T, E>;
