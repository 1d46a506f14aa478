//! The code under fuzzing, compiled from the services' own source files (`#[path]`), so the
//! fuzz build skips the services' heavy dependencies (sea-orm, fred, OpenTelemetry). Each
//! module keeps the path its file expects under `crate::`; the two glue types those files
//! name but do not test (`store::AppRef`, `error::FeedError`) are declared here as the
//! services declare them.

/// post-service's `api/validate.rs`.
#[path = "../../services/post-service/src/api/validate.rs"]
pub mod post_validate;

/// post-service's `page_token.rs`.
#[path = "../../services/post-service/src/page_token.rs"]
pub mod post_page_token;

/// log-ingest-service's `api/validate/`.
#[path = "../../services/log-ingest-service/src/api/validate/mod.rs"]
pub mod log_validate;

/// log-ingest-service's `record.rs` (as `crate::record`, where `validate.rs` finds it).
#[path = "../../services/log-ingest-service/src/record.rs"]
pub mod record;

/// feed-read-service's `api/validate.rs`.
#[path = "../../services/feed-read-service/src/api/validate.rs"]
pub mod feed_validate;

/// feed-read-service's `feed/cursor.rs`.
#[path = "../../services/feed-read-service/src/feed/cursor.rs"]
mod feed_cursor;

/// feed-read-service's `feed/` as far as the cursor (`crate::feed::Cursor`).
pub mod feed {
    pub use crate::feed_cursor::Cursor;
}

/// log-ingest-service's `store::AppRef` (from `store/apps.rs`).
pub mod store {
    /// Which app a key RPC names.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum AppRef {
        /// By `app_id`.
        Id(i64),
        /// By `name`.
        Name(String),
    }
}

/// feed-read-service's `error::FeedError`, the one variant validation returns.
pub mod error {
    use feedline_service_kit::validation::FieldViolation;

    /// A failed feed read.
    #[derive(Debug)]
    pub enum FeedError {
        /// The request is malformed; each violation names its field.
        InvalidArgument(Vec<FieldViolation>),
    }
}

/// feed-read-service's GetFeed validation, reachable from the fuzz targets: the user, the
/// page size and the cursor of a valid request.
pub fn get_feed(
    request: &feedline_proto::feed::v1::GetFeedRequest,
) -> Result<(i64, usize, Option<feed::Cursor>), error::FeedError> {
    feed_validate::get_feed(request).map(|valid| (valid.user_id, valid.page_size, valid.after))
}
