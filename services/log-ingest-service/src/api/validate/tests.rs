//! The checks' tests: every violation named, the limits, the query filters, app references.

use feedline_proto::logs::v1::{LogRecord, QueryLogsRequest, Severity};
use feedline_service_kit::validation::FieldViolation;
use prost_types::Timestamp;

use super::*;
use crate::record::NewRecord;
use crate::store::AppRef;

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
