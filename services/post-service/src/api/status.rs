//! The one place where post-service errors become gRPC statuses.

use std::time::Duration;

use feedline_service_kit::status::{invalid_argument, with_retry_after};
use tonic::{Code, Status};

use crate::error::Error;

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(violations) => invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::QueueFull { retry_after } => with_retry_after(
                Code::ResourceExhausted,
                "write queue full: nothing of this call was written; retry after the RetryInfo delay",
                retry_after,
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                with_retry_after(
                    Code::Unavailable,
                    "database unavailable; retry with backoff",
                    Duration::from_secs(1),
                )
            }
            Error::Overloaded {
                reason,
                retry_after,
            } => with_retry_after(
                Code::ResourceExhausted,
                format!("{reason}; nothing was written, retry later"),
                retry_after,
            ),
            Error::Internal(cause) => {
                // The cause stays in our logs; the caller gets a short, stable message.
                tracing::error!(error = %cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
