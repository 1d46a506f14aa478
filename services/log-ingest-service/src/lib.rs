//! log-ingest-service (skeleton): log records written to the database in bulk and acknowledged
//! only once committed.
//!
//! Its contract is `feedline.logs.v1.LogService` (`proto/feedline/logs/v1/logs.proto`). The
//! implementation lands with the log-ingestion issue.

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50054;
