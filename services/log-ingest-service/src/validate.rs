//! Checks of every request field, collecting all violations at once (`records[3].level`, ...).

use std::collections::BTreeMap;

use feedline_proto::logs::v1::{LogRecord, QueryLogsRequest, Severity};
use feedline_service_kit::validation::{FieldViolation, Violations};
use prost_types::Timestamp;

use crate::record::NewRecord;
use crate::store::AppRef;

/// Records per call at most.
pub const MAX_RECORDS_PER_CALL: usize = 1000;
/// Encoded bytes per call at most.
pub const MAX_CALL_BYTES: usize = 4 << 20;
/// How far in the past a record's time may be.
const MAX_AGE_NANOS: i64 = 7 * 24 * 3600 * 1_000_000_000;
/// How far in the future a record's time may be (clock skew).
const MAX_AHEAD_NANOS: i64 = 3600 * 1_000_000_000;
const MAX_SERVICE_CHARS: usize = 128;
const MAX_MESSAGE_BYTES: usize = 16_384;
const MAX_ATTRIBUTES: usize = 64;
const MAX_ATTRIBUTE_KEY_BYTES: usize = 128;
const MAX_ATTRIBUTE_VALUE_BYTES: usize = 4096;
const MAX_CLIENT_ID_BYTES: usize = 128;
const MAX_CONTAINS_BYTES: usize = 256;
/// QueryLogs page size when unset, and its maximum.
const DEFAULT_PAGE_SIZE: u64 = 100;
const MAX_PAGE_SIZE: i32 = 1000;

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

/// A timestamp as Unix nanoseconds, if it is a valid one that fits.
pub fn timestamp_nanos(t: &Timestamp) -> Result<i64, String> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err("nanos must be 0 to 999,999,999".into());
    }
    t.seconds
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(i64::from(t.nanos)))
        .ok_or_else(|| "out of range".into())
}

fn level(level: i32) -> Result<i16, String> {
    match Severity::try_from(level) {
        Ok(Severity::Unspecified) => Err("required".into()),
        Ok(s) => Ok(s as i16),
        Err(_) => Err(format!("unknown level {level}")),
    }
}

/// PostgreSQL cannot store NUL in text; refusing it everywhere keeps the backends alike.
fn no_nul(s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err("must not contain NUL characters".into())
    } else {
        Ok(())
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

fn trace_id(id: &str) -> Result<Option<String>, String> {
    if id.is_empty() {
        return Ok(None);
    }
    let hex = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex {
        return Err("must be 32 lowercase hex characters".into());
    }
    if id.bytes().all(|b| b == b'0') {
        return Err("must not be all zeros".into());
    }
    Ok(Some(id.to_owned()))
}

/// A validated QueryLogs request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Minimum level number, 0 for any.
    pub min_level: i16,
    /// Inclusive lower bound, Unix nanoseconds.
    pub start: Option<i64>,
    /// Exclusive upper bound, Unix nanoseconds.
    pub end: Option<i64>,
    /// Only this trace.
    pub trace_id: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Only messages containing this text.
    pub message_contains: Option<String>,
    /// Page size.
    pub page_size: u64,
}

impl LogQuery {
    /// The filters as bytes, so a page token is bound to them.
    pub fn scope(&self, app_id: i64) -> Vec<u8> {
        format!(
            "logs|{app_id}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.min_level,
            self.start,
            self.end,
            self.trace_id,
            self.service,
            self.message_contains
        )
        .into_bytes()
    }
}

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

/// What an app name may be.
const APP_NAME_RULE: &str = "must be 1 to 64 characters of a-z, 0-9, '-' and '_'";

fn is_app_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// Validates an app name: 1 to 64 characters of a-z, 0-9, '-' and '_'.
pub fn app_name(name: &str) -> Result<(), Vec<FieldViolation>> {
    if is_app_name(name) {
        Ok(())
    } else {
        Err(vec![FieldViolation::new("name", APP_NAME_RULE)])
    }
}

/// The app a key RPC names: exactly one of `app_id` (positive) and `app_name`.
pub fn app_ref(app_id: i64, app_name: &str) -> Result<AppRef, Vec<FieldViolation>> {
    let both = "set exactly one of app_id and app_name";
    match (app_id, app_name.is_empty()) {
        (0, true) => Err(vec![
            FieldViolation::new("app_id", both),
            FieldViolation::new("app_name", both),
        ]),
        (0, false) if is_app_name(app_name) => Ok(AppRef::Name(app_name.to_owned())),
        (0, false) => Err(vec![FieldViolation::new("app_name", APP_NAME_RULE)]),
        (id, true) if id > 0 => Ok(AppRef::Id(id)),
        (_, true) => Err(vec![FieldViolation::new("app_id", "must be positive")]),
        (_, false) => Err(vec![FieldViolation::new("app_name", both)]),
    }
}

/// A key id: positive.
pub fn key_id(id: i64) -> Result<i64, Vec<FieldViolation>> {
    if id > 0 {
        Ok(id)
    } else {
        Err(vec![FieldViolation::new(
            "key_id",
            "required; must be positive",
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn good() -> LogRecord {
        LogRecord {
            time: Some(Timestamp {
                seconds: NOW / 1_000_000_000,
                nanos: 5,
            }),
            level: Severity::Info as i32,
            service: "api".into(),
            message: "hello".into(),
            attributes: [
                ("b".to_owned(), "2".to_owned()),
                ("a".to_owned(), "1".to_owned()),
            ]
            .into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            client_record_id: "r-1".into(),
        }
    }

    fn fields(result: Result<Vec<NewRecord>, Vec<FieldViolation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_good_record_becomes_a_new_record() {
        let r = records(7, vec![good()], 100, NOW).unwrap();
        assert_eq!(r[0].app_id, 7);
        assert_eq!(r[0].time_unix_nano, NOW + 5);
        assert_eq!(r[0].level, 3);
        assert_eq!(r[0].attributes, r#"{"a":"1","b":"2"}"#);
        assert_eq!(r[0].client_record_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = good();
        bad.time = None;
        bad.level = 42;
        bad.message = String::new();
        bad.trace_id = "XYZ".into();
        bad.client_record_id = "x".repeat(129);
        let mut nul = good();
        nul.message = "a\0b".into();
        nul.level = 0;
        assert_eq!(
            fields(records(1, vec![good(), bad, nul], 100, NOW)),
            [
                "records[1].time",
                "records[1].level",
                "records[1].message",
                "records[1].trace_id",
                "records[1].client_record_id",
                "records[2].level",
                "records[2].message",
            ]
        );
    }

    #[test]
    fn call_limits() {
        assert_eq!(fields(records(1, vec![], 0, NOW)), ["records"]);
        assert_eq!(fields(records(1, vec![good(); 1001], 0, NOW)), ["records"]);
        assert_eq!(
            fields(records(1, vec![good()], MAX_CALL_BYTES + 1, NOW)),
            ["records"]
        );
    }

    #[test]
    fn time_window() {
        let mut old = good();
        old.time = Some(Timestamp {
            seconds: NOW / 1_000_000_000 - 8 * 24 * 3600,
            nanos: 0,
        });
        let mut ahead = good();
        ahead.time = Some(Timestamp {
            seconds: NOW / 1_000_000_000 + 7200,
            nanos: 0,
        });
        let mut broken = good();
        broken.time = Some(Timestamp {
            seconds: i64::MAX,
            nanos: -1,
        });
        assert_eq!(
            fields(records(1, vec![old, ahead, broken], 10, NOW)),
            ["records[0].time", "records[1].time", "records[2].time"]
        );
    }

    #[test]
    fn query_filters() {
        let q = query(&QueryLogsRequest {
            min_level: Severity::Warn as i32,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((q.min_level, q.page_size), (4, 100));
        let bad = query(&QueryLogsRequest {
            min_level: 9,
            start_time: Some(Timestamp {
                seconds: 10,
                nanos: 0,
            }),
            end_time: Some(Timestamp {
                seconds: 5,
                nanos: 0,
            }),
            trace_id: "00000000000000000000000000000000".into(),
            page_size: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        let names: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(names, ["min_level", "end_time", "trace_id", "page_size"]);
    }

    #[test]
    fn app_refs_and_key_ids() {
        assert_eq!(app_ref(5, ""), Ok(AppRef::Id(5)));
        assert_eq!(app_ref(0, "shop"), Ok(AppRef::Name("shop".into())));
        for (id, name, fields) in [
            (0, "", vec!["app_id", "app_name"]),
            (5, "shop", vec!["app_name"]),
            (-1, "", vec!["app_id"]),
            (0, "Shop", vec!["app_name"]),
        ] {
            let bad = app_ref(id, name).unwrap_err();
            let got: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(got, fields, "{id} {name:?}");
        }
        assert_eq!(key_id(3), Ok(3));
        assert_eq!(key_id(0).unwrap_err()[0].field, "key_id");
    }

    #[test]
    fn app_names() {
        assert!(app_name("shop-api_2").is_ok());
        for bad in ["", "Shop", "a b", &"a".repeat(65)] {
            assert!(app_name(bad).is_err(), "{bad}");
        }
    }
}
