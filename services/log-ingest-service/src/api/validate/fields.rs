//! Checks of single fields that both a record and a query carry: a timestamp, a trace id, a
//! text that must not hold NUL, a service name's length.

use prost_types::Timestamp;

/// The longest service name, in characters.
pub(super) const MAX_SERVICE_CHARS: usize = 128;

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

/// PostgreSQL cannot store NUL in text; refusing it everywhere keeps the backends alike.
pub(super) fn no_nul(s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err("must not contain NUL characters".into())
    } else {
        Ok(())
    }
}

/// A trace id: empty (none) or 32 lowercase hex characters, not all zeros.
pub(super) fn trace_id(id: &str) -> Result<Option<String>, String> {
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
