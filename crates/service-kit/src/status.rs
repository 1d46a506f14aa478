//! Building `tonic::Status` values with machine-readable details (google.rpc.BadRequest,
//! RetryInfo), so clients learn which field is wrong or how long to wait.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::validation::FieldViolation;

/// INVALID_ARGUMENT carrying every violation as a `BadRequest` detail; the message lists them
/// too, for clients that do not decode details (grpcurl shows both).
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    let mut details = ErrorDetails::new();
    for v in violations {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A status with a `RetryInfo` detail telling the client when to try again (used with
/// RESOURCE_EXHAUSTED and UNAVAILABLE).
pub fn with_retry_after(code: Code, message: impl Into<String>, retry_after: Duration) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_travel_as_bad_request_details() {
        let status = invalid_argument(&[
            FieldViolation::new("body", "must not be empty"),
            FieldViolation::new("author_id", "must be positive"),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = status.get_details_bad_request().unwrap();
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["body", "author_id"]);
        assert!(status.message().contains("body: must not be empty"));
    }
}
