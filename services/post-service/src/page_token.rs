//! Opaque page tokens: which list, for whom, and the last key returned.
//!
//! A token is base64url of `version | list | subject | after | check`, where `check` is a keyed
//! hash of the rest. Clients must treat tokens as opaque; a token that was altered, belongs to
//! another list or another subject is refused with INVALID_ARGUMENT (never a panic, never a
//! silently wrong page). Keys are ids, so a page never shifts when new rows arrive.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;
/// version, list, subject, after.
const BODY_LEN: usize = 1 + 1 + 8 + 8;
/// The body plus the 4-byte check.
const TOKEN_LEN: usize = BODY_LEN + 4;
/// Not a secret: the check catches corruption and casual edits. Tokens grant nothing a caller
/// could not ask for directly, so forging one is harmless.
const CHECK_KEY: u64 = 0x6665_6564_6c69_6e65; // "feedline"

/// Which listing a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum List {
    /// GraphService.ListFollowers.
    Followers = 1,
    /// GraphService.ListFollowing.
    Following = 2,
    /// PostService.ListAuthorPosts.
    AuthorPosts = 3,
}

/// Encodes a token resuming `list` for `subject` after the key `after`.
pub fn encode(list: List, subject: i64, after: i64) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(VERSION);
    bytes.push(list as u8);
    bytes.extend_from_slice(&subject.to_be_bytes());
    bytes.extend_from_slice(&after.to_be_bytes());
    let check = fnv1a(&bytes);
    bytes.extend_from_slice(&check.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes `token` for `list` and `subject`: `Ok(None)` for an empty token (first page),
/// `Ok(Some(after))` to resume, `Err(reason)` for anything else.
pub fn decode(token: &str, list: List, subject: i64) -> Result<Option<i64>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| "not a page token issued by this service".to_owned())?;
    if bytes.len() != TOKEN_LEN || bytes[0] != VERSION {
        return Err("not a page token issued by this service".to_owned());
    }
    let (body, check) = bytes.split_at(BODY_LEN);
    if fnv1a(body).to_be_bytes() != check {
        return Err("page token was altered".to_owned());
    }
    if body[1] != list as u8 || be_i64(&body[2..10]) != subject {
        return Err("page token belongs to another listing".to_owned());
    }
    Ok(Some(be_i64(&body[10..18])))
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    i64::from_be_bytes(b)
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
        let t = encode(List::Followers, 42, 1234);
        assert_eq!(decode(&t, List::Followers, 42), Ok(Some(1234)));
        assert_eq!(decode("", List::Followers, 42), Ok(None));
    }

    #[test]
    fn refuses_other_lists_subjects_edits_and_garbage() {
        let t = encode(List::Followers, 42, 1234);
        assert!(decode(&t, List::Following, 42).is_err());
        assert!(decode(&t, List::Followers, 43).is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[17] ^= 1;
        assert!(decode(&URL_SAFE_NO_PAD.encode(bytes), List::Followers, 42).is_err());
        for junk in ["x", "!!!", "AAAA", &"A".repeat(10_000)] {
            assert!(decode(junk, List::Followers, 42).is_err(), "{junk}");
        }
    }
}
