//! Conversions between `google.protobuf.Timestamp` and the Unix milliseconds stored in databases.

use prost_types::Timestamp;

/// Converts Unix milliseconds to a protobuf `Timestamp`.
pub fn millis_to_timestamp(millis: i64) -> Timestamp {
    Timestamp {
        seconds: millis.div_euclid(1000),
        // The remainder is in 0..1000, so the product always fits in an i32.
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Converts a protobuf `Timestamp` to Unix milliseconds, truncating sub-millisecond precision.
/// Returns `None` when the timestamp is malformed (nanos outside 0..1e9) or out of range.
pub fn timestamp_to_millis(ts: &Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    let ms = i64::from(ts.nanos / 1_000_000);
    // `seconds * 1000` overflows in the last second before i64::MIN ms, where the sum itself
    // still fits: there, compute (seconds + 1) * 1000 - (1000 - ms) instead (found by fuzzing).
    ts.seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(ms))
        .or_else(|| {
            ts.seconds
                .checked_add(1)?
                .checked_mul(1000)?
                .checked_sub(1000 - ms)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_including_negative_millis() {
        for millis in [
            0,
            1,
            999,
            1_000,
            1_763_700_000_123,
            -1,
            -1_001,
            i64::MIN,
            i64::MIN + 4,
            i64::MAX,
        ] {
            assert_eq!(
                timestamp_to_millis(&millis_to_timestamp(millis)),
                Some(millis)
            );
        }
    }

    #[test]
    fn rejects_malformed_nanos() {
        let ts = Timestamp {
            seconds: 1,
            nanos: -5,
        };
        assert_eq!(timestamp_to_millis(&ts), None);
        let ts = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(timestamp_to_millis(&ts), None);
    }
}
