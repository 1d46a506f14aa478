//! Checks of a QueryLogs request.

use feedline_proto::logs::v1::{QueryLogsRequest, Severity};
use feedline_service_kit::validation::{FieldViolation, Violations};

use super::fields::{MAX_SERVICE_CHARS, no_nul, timestamp_nanos, trace_id};
use crate::record::LogQuery;

const MAX_CONTAINS_BYTES: usize = 256;
/// QueryLogs page size when unset, and its maximum.
const DEFAULT_PAGE_SIZE: u64 = 100;
const MAX_PAGE_SIZE: i32 = 1000;

/// Validates a QueryLogs request (the page token is checked by the caller against the scope).
pub fn query(req: &QueryLogsRequest) -> Result<LogQuery, Vec<FieldViolation>> {
    let mut v = Violations::new();
    let min_level = match Severity::try_from(req.min_level) {
        Ok(s) => s as i16,
        Err(_) => {
            v.add("min_level", format!("unknown level {}", req.min_level));
            0
        }
    };
    let start = req
        .start_time
        .as_ref()
        .map(|t| v.check("start_time", timestamp_nanos(t)));
    let end = req
        .end_time
        .as_ref()
        .map(|t| v.check("end_time", timestamp_nanos(t)));
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        v.add("end_time", "must be after start_time");
    }
    let trace_id = v.check("trace_id", trace_id(&req.trace_id));
    if req.service.chars().count() > MAX_SERVICE_CHARS {
        v.add("service", format!("at most {MAX_SERVICE_CHARS} characters"));
    }
    v.check("service", no_nul(&req.service));
    if req.message_contains.len() > MAX_CONTAINS_BYTES {
        v.add(
            "message_contains",
            format!("at most {MAX_CONTAINS_BYTES} bytes"),
        );
    }
    v.check("message_contains", no_nul(&req.message_contains));
    let page_size = match req.page_size {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n as u64,
        Some(n) => {
            v.add("page_size", format!("{n}; must be 1 to {MAX_PAGE_SIZE}"));
            0
        }
    };
    v.finish()?;
    Ok(LogQuery {
        min_level,
        start,
        end,
        trace_id,
        service: (!req.service.is_empty()).then(|| req.service.clone()),
        message_contains: (!req.message_contains.is_empty()).then(|| req.message_contains.clone()),
        page_size,
    })
}
