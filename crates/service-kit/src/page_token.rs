//! Opaque page tokens: the listing they belong to and the last key returned.
//!
//! A token is base64url of `version | scope | keys... | check`: `scope` is a hash of whatever
//! identifies the listing (which list, for whom, with which filters) and `check` a keyed hash
//! of the rest. A token that was altered, or belongs to another listing, is refused (the
//! caller answers INVALID_ARGUMENT: never a panic, never a silently wrong page). Keys are
//! stable row keys, so a page never shifts when new rows arrive.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 2;
/// Not a secret: the check catches corruption and casual edits. Tokens grant nothing a caller
/// could not ask for directly, so forging one is harmless.
const CHECK_KEY: u64 = 0x6665_6564_6c69_6e65; // "feedline"

/// Encodes a token resuming the listing identified by `scope` after `keys`.
pub fn encode(scope: &[u8], keys: &[i64]) -> String {
    let mut bytes = Vec::with_capacity(1 + 4 + 8 * keys.len() + 4);
    bytes.push(VERSION);
    bytes.extend_from_slice(&fnv1a(scope).to_be_bytes());
    for key in keys {
        bytes.extend_from_slice(&key.to_be_bytes());
    }
    let check = fnv1a(&bytes);
    bytes.extend_from_slice(&check.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes `token` for the listing `scope`, which resumes after `N` keys: `Ok(None)` for an
/// empty token (first page), `Ok(Some(keys))` to resume, `Err(reason)` for anything else.
pub fn decode<const N: usize>(token: &str, scope: &[u8]) -> Result<Option<[i64; N]>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let foreign = || "not a page token issued by this service".to_owned();
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| foreign())?;
    let body_len = 1 + 4 + 8 * N;
    if bytes.len() != body_len + 4 || bytes[0] != VERSION {
        return Err(foreign());
    }
    let (body, check) = bytes.split_at(body_len);
    if fnv1a(body).to_be_bytes() != check {
        return Err("page token was altered".to_owned());
    }
    if body[1..5] != fnv1a(scope).to_be_bytes() {
        return Err("page token belongs to another listing or other filters".to_owned());
    }
    let mut keys = [0i64; N];
    for (i, chunk) in body[5..].chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        keys[i] = i64::from_be_bytes(b);
    }
    Ok(Some(keys))
}

/// FNV-1a, 32 bits of it, seeded with the key.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ CHECK_KEY;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = encode(b"followers/42", &[1234]);
        assert_eq!(decode::<1>(&t, b"followers/42"), Ok(Some([1234])));
        assert_eq!(decode::<1>("", b"followers/42"), Ok(None));
        let t = encode(b"logs", &[-5, i64::MAX]);
        assert_eq!(decode::<2>(&t, b"logs"), Ok(Some([-5, i64::MAX])));
    }

    #[test]
    fn refuses_other_scopes_edits_and_garbage() {
        let t = encode(b"followers/42", &[1234]);
        assert!(decode::<1>(&t, b"following/42").is_err());
        assert!(decode::<1>(&t, b"followers/43").is_err());
        assert!(decode::<2>(&t, b"followers/42").is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[7] ^= 1;
        assert!(decode::<1>(&URL_SAFE_NO_PAD.encode(bytes), b"followers/42").is_err());
        for junk in ["x", "!!!", "AAAA", &"A".repeat(10_000)] {
            assert!(decode::<1>(junk, b"followers/42").is_err(), "{junk}");
        }
    }
}
