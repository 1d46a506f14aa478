//! The records a run sends: a typical access-log line (~150 bytes, two attributes), stamped
//! now, with a client_record_id `sender-call-record` that the verification maps back to one
//! slot per record.

use std::time::{SystemTime, UNIX_EPOCH};

use feedline_proto::logs::v1::{LogRecord, Severity};
use feedline_proto::prost_types::Timestamp;

/// The shape of a run, to number its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Numbering {
    pub senders: usize,
    pub calls: usize,
    pub records: usize,
}

impl Numbering {
    /// Records in the whole run.
    pub fn total(&self) -> usize {
        self.senders * self.calls * self.records
    }

    /// The slot of record `i` of call `call` of `sender`.
    pub fn slot(&self, sender: usize, call: usize, i: usize) -> usize {
        (sender * self.calls + call) * self.records + i
    }

    /// The slot a client_record_id of this run names; None for anything else.
    pub fn parse(&self, id: &str) -> Option<usize> {
        let mut parts = id.split('-');
        let sender: usize = parts.next()?.parse().ok()?;
        let call: usize = parts.next()?.parse().ok()?;
        let i: usize = parts.next()?.parse().ok()?;
        if parts.next().is_some()
            || sender >= self.senders
            || call >= self.calls
            || i >= self.records
        {
            return None;
        }
        Some(self.slot(sender, call, i))
    }
}

/// The levels records cycle through.
const LEVELS: [Severity; 4] = [
    Severity::Info,
    Severity::Info,
    Severity::Warn,
    Severity::Debug,
];

/// The `service` of every record.
pub const SERVICE: &str = "checkout";
/// The attributes of every record.
const ATTRIBUTES: [(&str, &str); 2] = [("host", "loadgen-1"), ("region", "eu-west-1")];
/// [`ATTRIBUTES`] as log-ingest-service stores them: a JSON object with sorted keys (for the
/// raw baselines, which write rows straight into the database).
pub const ATTRIBUTES_JSON: &str = r#"{"host":"loadgen-1","region":"eu-west-1"}"#;

/// The level of record `i` of a call.
pub fn level(i: usize) -> Severity {
    LEVELS[i % LEVELS.len()]
}

/// The message of record `i` of call `call` of `sender`: about 150 bytes, an access-log line.
pub fn message(sender: usize, call: usize, i: usize) -> String {
    format!(
        "request completed: GET /api/v1/catalog/items?page=2&sort=price status=200 \
         bytes=5120 dur_ms=12 peer=cat-7f9c sender={sender:05} call={call:07} record={i:04}"
    )
}

/// `sender-call-record`: unique in a run, and mapped back to its slot by [`Numbering`].
pub fn client_record_id(sender: usize, call: usize, i: usize) -> String {
    format!("{sender}-{call}-{i}")
}

/// Call `call` of `sender`: `n` records stamped now. Built again for a retry, with the same
/// client_record_ids, so a retry stores nothing twice.
pub fn batch(sender: usize, call: usize, n: usize) -> Vec<LogRecord> {
    let time = now();
    (0..n)
        .map(|i| LogRecord {
            time: Some(time),
            level: level(i) as i32,
            service: SERVICE.to_owned(),
            message: message(sender, call, i),
            attributes: ATTRIBUTES
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            trace_id: String::new(),
            client_record_id: client_record_id(sender, call, i),
        })
        .collect()
}

/// Now, in Unix nanoseconds.
pub fn now_unix_nano() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Now, in whole microseconds (like most clients' clocks).
fn now() -> Timestamp {
    let micros = now_unix_nano() / 1000;
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_to_their_slot() {
        let numbering = Numbering {
            senders: 3,
            calls: 4,
            records: 5,
        };
        let records = batch(2, 3, 5);
        let slots: Vec<usize> = records
            .iter()
            .map(|r| numbering.parse(&r.client_record_id).unwrap())
            .collect();
        assert_eq!(slots, (55..60).collect::<Vec<_>>());
        assert_eq!(numbering.total(), 60);
        assert_eq!(numbering.parse("3-0-0"), None);
        assert_eq!(numbering.parse("0-4-0"), None);
        assert_eq!(numbering.parse("0-0-0-0"), None);
        assert_eq!(numbering.parse("x"), None);
        let len = records[0].message.len();
        assert!((140..=170).contains(&len), "{len}");
    }

    #[test]
    fn the_stored_attributes_are_the_sent_ones() {
        let sent: std::collections::BTreeMap<_, _> = ATTRIBUTES.into_iter().collect();
        assert_eq!(serde_json::to_string(&sent).unwrap(), ATTRIBUTES_JSON);
    }
}
