//! The records every run writes, raw or through the service: one shape everywhere (a ~150-byte
//! message, two attributes, level INFO, time now, a unique client_record_id), so the rates of
//! the raw baselines and of the service compare like for like.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use feedline_proto::logs::v1::{LogRecord, Severity};
use feedline_proto::prost_types::Timestamp;

/// The `service` field of every record.
pub const SERVICE: &str = "checkout";
/// The start of every message; the counters after it bring it to about 150 bytes, the size of a
/// typical access-log line.
const MESSAGE_PREFIX: &str = concat!(
    "request completed: GET /api/v1/catalog/items?page=2&sort=price ",
    "status=200 bytes=5120 dur_ms=12 peer=cat-7f9c"
);
/// The attributes, as the service stores them: a JSON object with sorted keys.
pub const ATTRIBUTES_JSON: &str = r#"{"host":"bench-node-1","region":"eu-west-1"}"#;
/// The columns of `log_records` in the order `copy_rows` and `insert` write them.
pub const COLUMNS: &str = "id, app_id, time_unix_nano, level, service, message, attributes, \
                           trace_id, client_record_id, receive_unix_nano";

/// Record `i` of batch `seq` of `sender`: its message.
pub fn message(sender: usize, seq: u64, i: usize) -> String {
    format!("{MESSAGE_PREFIX} sender={sender:05} seq={seq:010} record={i:04}")
}

/// Unique per sender, batch and position, hence per app: dedupe never drops one of ours.
pub fn client_record_id(sender: usize, seq: u64, i: usize) -> String {
    format!("{sender}-{seq}-{i}")
}

/// Now, in Unix nanoseconds (what `log_records` stores).
pub fn now_unix_nano() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Now, as a protobuf Timestamp (whole microseconds, like most clients' clocks).
pub fn now_timestamp() -> Timestamp {
    let nanos = now_unix_nano();
    Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: (nanos.rem_euclid(1_000_000_000) / 1000 * 1000) as i32,
    }
}

/// Batch `seq` of `sender` as sent to the service: `n` records stamped now. Built again for a
/// retry: the same client_record_ids make the retry safe.
pub fn proto_batch(sender: usize, seq: u64, n: usize) -> Vec<LogRecord> {
    let time = now_timestamp();
    (0..n)
        .map(|i| LogRecord {
            time: Some(time),
            level: Severity::Info as i32,
            service: SERVICE.to_owned(),
            message: message(sender, seq, i),
            attributes: [
                ("host".to_owned(), "bench-node-1".to_owned()),
                ("region".to_owned(), "eu-west-1".to_owned()),
            ]
            .into_iter()
            .collect(),
            trace_id: String::new(),
            client_record_id: client_record_id(sender, seq, i),
        })
        .collect()
}

/// One stored row as the service would write it, for the raw baselines.
pub struct Row {
    pub id: i64,
    pub time_unix_nano: i64,
    pub message: String,
    pub client_record_id: String,
}

/// Rows `first_id..first_id + n` of batch `seq` of `sender`.
pub fn rows(sender: usize, seq: u64, first_id: i64, n: usize) -> Vec<Row> {
    let time = now_unix_nano();
    (0..n)
        .map(|i| Row {
            id: first_id + i as i64,
            time_unix_nano: time,
            message: message(sender, seq, i),
            client_record_id: client_record_id(sender, seq, i),
        })
        .collect()
}

/// Appends `rows` to `out` in COPY's text format. The generated fields hold no tab, newline or
/// backslash, so nothing needs COPY escaping; `\N` is NULL (no trace id).
pub fn copy_text(out: &mut Vec<u8>, app_id: i64, rows: &[Row], receive_unix_nano: i64) {
    let mut line = String::with_capacity(320);
    for row in rows {
        line.clear();
        let _ = writeln!(
            line,
            "{}\t{app_id}\t{}\t{}\t{SERVICE}\t{}\t{ATTRIBUTES_JSON}\t\\N\t{}\t{receive_unix_nano}",
            row.id,
            row.time_unix_nano,
            Severity::Info as i16,
            row.message,
            row.client_record_id,
        );
        out.extend_from_slice(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_about_150_bytes() {
        let len = message(399, 123_456, 999).len();
        assert!((140..=160).contains(&len), "{len}");
    }

    #[test]
    fn copy_text_has_ten_columns_per_line() {
        let mut out = Vec::new();
        copy_text(&mut out, 7, &rows(3, 4, 100, 2), 1);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].split('\t').count(), 10);
        assert!(lines[1].starts_with("101\t7\t"));
        assert!(lines[1].contains("\t\\N\t3-4-1\t1"));
    }

    #[test]
    fn batches_carry_unique_ids_and_a_valid_time() {
        let batch = proto_batch(2, 9, 3);
        let ids: Vec<&str> = batch.iter().map(|r| r.client_record_id.as_str()).collect();
        assert_eq!(ids, ["2-9-0", "2-9-1", "2-9-2"]);
        let time = batch[0].time.unwrap();
        assert!(time.seconds > 1_700_000_000 && (0..1_000_000_000).contains(&time.nanos));
    }
}
