//! The one place where post-service errors become gRPC statuses.

use std::time::Duration;

use feedline_service_kit::status::{invalid_argument, with_retry_after};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

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
            Error::RateLimited {
                quota,
                user,
                limit,
                window,
                retry_after,
            } => {
                let quota = quota.name();
                let per = format!("{limit} {quota} per {} s", window.as_secs());
                let mut details = ErrorDetails::with_retry_info(Some(retry_after));
                details.add_quota_failure_violation(format!("user:{user}"), per.clone());
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!(
                        "rate limit: at most {per} per user; nothing was written, retry after \
                         the RetryInfo delay"
                    ),
                    details,
                )
            }
            Error::Internal(cause) => {
                // The cause stays in our logs; the caller gets a short, stable message.
                tracing::error!(error = %cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
