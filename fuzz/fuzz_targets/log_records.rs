//! log-ingest-service's record path short of the database: an Ingest or IngestStream request
//! decoded, validated into `NewRecord`s (`validate::records`), weighed for the queue
//! (`record.rs`), and read back as a query answers it. Never a panic; every accepted record is
//! storable on every backend and reads back as it was sent.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use feedline_fuzz::log_validate as validate;
use feedline_fuzz::record::NewRecord;
use feedline_proto::logs::v1::{IngestRequest, IngestStreamRequest, LogRecord};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use prost_types::Timestamp;

/// A fixed clock, so that a crash reproduces: 2027-01-15.
const NOW_NANOS: i64 = 1_800_000_000_000_000_000;
const APP_ID: i64 = 7;

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = common::pick(data) else {
        return;
    };
    let (records, encoded_len) = if which % 2 == 0 {
        let Some(r) = common::decode::<IngestRequest>(bytes) else {
            return;
        };
        let len = r.encoded_len();
        (r.records, len)
    } else {
        let Some(r) = common::decode::<IngestStreamRequest>(bytes) else {
            return;
        };
        let len = r.encoded_len();
        (r.records, len)
    };
    let sent = records.clone();
    match validate::records(APP_ID, records, encoded_len, NOW_NANOS) {
        Ok(accepted) => {
            assert_eq!(
                accepted.len(),
                sent.len(),
                "all or none of a call is accepted"
            );
            for (record, original) in accepted.iter().zip(&sent) {
                check(record, original);
            }
        }
        Err(violations) => assert!(!violations.is_empty()),
    }
});

fn check(record: &NewRecord, sent: &LogRecord) {
    assert_eq!(record.app_id, APP_ID);
    assert!((1..=6).contains(&record.level));
    assert_eq!(i32::from(record.level), sent.level);
    let window = NOW_NANOS - 7 * 24 * 3600 * 1_000_000_000..=NOW_NANOS + 3600 * 1_000_000_000;
    assert!(window.contains(&record.time_unix_nano));
    // Read back as QueryLogs answers it (`api/query.rs`): the same instant.
    let back = Timestamp {
        seconds: record.time_unix_nano.div_euclid(1_000_000_000),
        nanos: record.time_unix_nano.rem_euclid(1_000_000_000) as i32,
    };
    assert_eq!(Some(&back), sent.time.as_ref());
    assert_eq!(validate::timestamp_nanos(&back), Ok(record.time_unix_nano));
    for text in [&record.service, &record.message, &record.attributes] {
        assert!(
            !text.contains('\0'),
            "PostgreSQL cannot store NUL: {text:?}"
        );
    }
    assert_eq!(record.service, sent.service);
    assert_eq!(record.message, sent.message);
    assert!(!record.message.is_empty());
    let attributes: HashMap<String, String> =
        serde_json::from_str(&record.attributes).expect("stored attributes are a JSON object");
    assert_eq!(attributes, sent.attributes);
    match &record.trace_id {
        None => assert!(sent.trace_id.is_empty()),
        Some(id) => {
            assert_eq!(id, &sent.trace_id);
            assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    match &record.client_record_id {
        None => assert!(sent.client_record_id.is_empty()),
        Some(id) => {
            assert_eq!(id, &sent.client_record_id);
            assert!(!id.contains('\0'));
        }
    }
    assert!(record.weight() >= std::mem::size_of::<NewRecord>() + record.message.len());
}
