//! Assertions on gRPC statuses that every service's tests make.

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// Asserts `status` is INVALID_ARGUMENT with a BadRequest violation of exactly `field`.
pub fn assert_violation(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest details in {status:?}"));
    let fields: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains(&field),
        "expected a violation of {field}, got {fields:?}"
    );
}

/// The RetryInfo delay of `status`, if it carries one.
pub fn retry_delay(status: &Status) -> Option<std::time::Duration> {
    status.get_details_retry_info().and_then(|r| r.retry_delay)
}
