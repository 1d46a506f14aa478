//! Checks of an Ingest call's records, collecting every violation at once
//! (`records[3].level`, ...).

use std::collections::BTreeMap;

use feedline_proto::logs::v1::{LogRecord, Severity};
use feedline_service_kit::validation::{FieldViolation, Violations};
use prost_types::Timestamp;

use super::fields::{MAX_SERVICE_CHARS, no_nul, timestamp_nanos, trace_id};
use crate::record::NewRecord;

/// Records per call at most.
pub const MAX_RECORDS_PER_CALL: usize = 1000;
/// Encoded bytes per call at most.
pub const MAX_CALL_BYTES: usize = 4 << 20;
/// How far in the past a record's time may be.
const MAX_AGE_NANOS: i64 = 7 * 24 * 3600 * 1_000_000_000;
/// How far in the future a record's time may be (clock skew).
const MAX_AHEAD_NANOS: i64 = 3600 * 1_000_000_000;
const MAX_MESSAGE_BYTES: usize = 16_384;
const MAX_ATTRIBUTES: usize = 64;
const MAX_ATTRIBUTE_KEY_BYTES: usize = 128;
const MAX_ATTRIBUTE_VALUE_BYTES: usize = 4096;
const MAX_CLIENT_ID_BYTES: usize = 128;

/// Validates one call's records for `app_id` against the clock `now_nanos`. Ids are assigned
/// later, on admission.
pub fn records(
    app_id: i64,
    records: Vec<LogRecord>,
    encoded_len: usize,
    now_nanos: i64,
) -> Result<Vec<NewRecord>, Vec<FieldViolation>> {
    let mut v = Violations::new();
    if records.is_empty() {
        v.add("records", "must hold at least one record");
    } else if records.len() > MAX_RECORDS_PER_CALL {
        v.add(
            "records",
            format!(
                "{} records; at most {MAX_RECORDS_PER_CALL} per call",
                records.len()
            ),
        );
    }
    if encoded_len > MAX_CALL_BYTES {
        v.add(
            "records",
            format!("the call is {encoded_len} bytes; at most {MAX_CALL_BYTES}"),
        );
    }
    v.finish()?;
    let mut out = Vec::with_capacity(records.len());
    let mut v = Violations::new();
    for (i, record) in records.into_iter().enumerate() {
        if let Some(r) = one(&mut v, i, app_id, record, now_nanos) {
            out.push(r);
        }
    }
    v.finish()?;
    Ok(out)
}

/// Checks record `i`. Field paths (`records[3].level`) are formatted only for a violation:
/// this runs for every record ingested, and allocating eight paths per valid record was a
/// measurable share of the service's CPU.
fn one(
    v: &mut Violations,
    i: usize,
    app_id: i64,
    r: LogRecord,
    now_nanos: i64,
) -> Option<NewRecord> {
    let before = v.len();
    let mut bad = |name: &str, description: String| {
        v.add(format!("records[{i}].{name}"), description);
    };
    let time_unix_nano = time(r.time.as_ref(), now_nanos).unwrap_or_else(|e| {
        bad("time", e);
        0
    });
    let level = level(r.level).unwrap_or_else(|e| {
        bad("level", e);
        0
    });
    if r.service.len() > MAX_SERVICE_CHARS && r.service.chars().count() > MAX_SERVICE_CHARS {
        bad("service", format!("at most {MAX_SERVICE_CHARS} characters"));
    }
    if let Err(e) = no_nul(&r.service) {
        bad("service", e);
    }
    if r.message.is_empty() || r.message.len() > MAX_MESSAGE_BYTES {
        bad(
            "message",
            format!(
                "{} bytes; must be 1 to {MAX_MESSAGE_BYTES}",
                r.message.len()
            ),
        );
    }
    if let Err(e) = no_nul(&r.message) {
        bad("message", e);
    }
    let attributes = attributes(r.attributes).unwrap_or_else(|e| {
        bad("attributes", e);
        String::new()
    });
    let trace_id = trace_id(&r.trace_id).unwrap_or_else(|e| {
        bad("trace_id", e);
        None
    });
    if r.client_record_id.len() > MAX_CLIENT_ID_BYTES {
        bad(
            "client_record_id",
            format!("at most {MAX_CLIENT_ID_BYTES} bytes"),
        );
    }
    if let Err(e) = no_nul(&r.client_record_id) {
        bad("client_record_id", e);
    }
    (v.len() == before).then(|| NewRecord {
        id: 0,
        app_id,
        time_unix_nano,
        level,
        service: r.service,
        message: r.message,
        attributes,
        trace_id,
        client_record_id: (!r.client_record_id.is_empty()).then_some(r.client_record_id),
    })
}

/// A timestamp as Unix nanoseconds, within the accepted window around `now_nanos`.
fn time(t: Option<&Timestamp>, now_nanos: i64) -> Result<i64, String> {
    let t = t.ok_or("required")?;
    let nanos = timestamp_nanos(t)?;
    if nanos < now_nanos - MAX_AGE_NANOS {
        return Err("more than 7 days in the past".into());
    }
    if nanos > now_nanos + MAX_AHEAD_NANOS {
        return Err("more than 1 hour in the future".into());
    }
    Ok(nanos)
}

fn level(level: i32) -> Result<i16, String> {
    match Severity::try_from(level) {
        Ok(Severity::Unspecified) => Err("required".into()),
        Ok(s) => Ok(s as i16),
        Err(_) => Err(format!("unknown level {level}")),
    }
}

fn attributes(attributes: std::collections::HashMap<String, String>) -> Result<String, String> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "{} attributes; at most {MAX_ATTRIBUTES}",
            attributes.len()
        ));
    }
    for (k, value) in &attributes {
        if k.is_empty() || k.len() > MAX_ATTRIBUTE_KEY_BYTES {
            return Err(format!(
                "key {k:?}: must be 1 to {MAX_ATTRIBUTE_KEY_BYTES} bytes"
            ));
        }
        if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(format!(
                "value of {k:?}: at most {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
            ));
        }
    }
    if attributes.is_empty() {
        return Ok("{}".to_owned());
    }
    // Sorted keys: the same attributes are always the same text.
    let sorted: BTreeMap<String, String> = attributes.into_iter().collect();
    serde_json::to_string(&sorted).map_err(|e| e.to_string())
}
