//! The one place where log-ingest-service errors become gRPC statuses (and IngestStream
//! answers, which carry the same codes in-band).

use std::time::Duration;

use feedline_proto::logs::v1::IngestStreamResponse;
use feedline_service_kit::status::{invalid_argument, with_retry_after};
use tonic::{Code, Status};

use crate::error::Error;
use crate::record::Outcome;

/// What a caller refused by an unreachable database is told to wait.
const RETRY_AFTER_UNAVAILABLE: Duration = Duration::from_secs(1);

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(violations) => invalid_argument(&violations),
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::QueueFull { retry_after } => with_retry_after(
                Code::ResourceExhausted,
                "ingest queue full: nothing of this call was taken; retry after the RetryInfo delay",
                retry_after,
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                with_retry_after(
                    Code::Unavailable,
                    "database unavailable: nothing of this call was acknowledged; retry",
                    RETRY_AFTER_UNAVAILABLE,
                )
            }
            Error::ShuttingDown => with_retry_after(
                Code::Unavailable,
                "the service is shutting down: nothing of this call was acknowledged; retry",
                RETRY_AFTER_UNAVAILABLE,
            ),
            Error::Internal(cause) => {
                // The cause stays in our logs; the caller gets a short, stable message.
                tracing::error!(error = %cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// The IngestStream answer to request `request_id`: the same code and message a unary
/// Ingest would get, in-band, so one bad batch does not end the stream.
pub fn stream_answer(request_id: u64, result: Result<Outcome, Error>) -> IngestStreamResponse {
    match result {
        Ok(outcome) => IngestStreamResponse {
            request_id,
            code: Code::Ok as i32,
            accepted: outcome.accepted as i32,
            duplicates: outcome.duplicates as i32,
            ..Default::default()
        },
        Err(err) => {
            let retry_delay = match &err {
                Error::QueueFull { retry_after } => Some(*retry_after),
                Error::Unavailable(_) | Error::ShuttingDown => Some(RETRY_AFTER_UNAVAILABLE),
                _ => None,
            };
            let status = Status::from(err);
            IngestStreamResponse {
                request_id,
                code: status.code() as i32,
                message: status.message().to_owned(),
                retry_delay: retry_delay.and_then(|d| prost_types::Duration::try_from(d).ok()),
                ..Default::default()
            }
        }
    }
}
