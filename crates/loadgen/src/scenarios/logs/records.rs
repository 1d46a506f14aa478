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

/// Call `call` of `sender`: `n` records stamped now. Built again for a retry, with the same
/// client_record_ids, so a retry stores nothing twice.
pub fn batch(sender: usize, call: usize, n: usize) -> Vec<LogRecord> {
    let time = now();
    (0..n)
        .map(|i| LogRecord {
            time: Some(time),
            level: LEVELS[i % LEVELS.len()] as i32,
            service: "checkout".to_owned(),
            message: format!(
                "request completed: GET /api/v1/catalog/items?page=2&sort=price status=200 \
                 bytes=5120 dur_ms=12 peer=cat-7f9c sender={sender:05} call={call:07} record={i:04}"
            ),
            attributes: [
                ("host".to_owned(), "loadgen-1".to_owned()),
                ("region".to_owned(), "eu-west-1".to_owned()),
            ]
            .into_iter()
            .collect(),
            trace_id: String::new(),
            client_record_id: format!("{sender}-{call}-{i}"),
        })
        .collect()
}

/// Now, in whole microseconds (like most clients' clocks).
fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp {
        seconds: (micros / 1_000_000) as i64,
        nanos: (micros % 1_000_000) as i32 * 1000,
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
}
