//! Input rules of post-service's RPCs. Each check returns the description of what is wrong,
//! so a handler can collect every violation of a request before answering.

/// Longest post body, in Unicode scalar values.
pub const MAX_BODY_CHARS: usize = 2000;
/// Longest display name, in Unicode scalar values.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest idempotency key, in bytes (printable ASCII).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
/// Most ids in one BatchGetPosts.
pub const MAX_BATCH_GET: usize = 100;
/// Most posts in one ListFolloweePosts.
pub const MAX_FOLLOWEE_POSTS: u64 = 1000;
/// Posts in one ListFolloweePosts when max_posts is unset: what a home timeline holds.
pub const DEFAULT_FOLLOWEE_POSTS: u64 = 800;

/// A positive id.
pub fn id(value: i64) -> Result<i64, String> {
    if value > 0 {
        Ok(value)
    } else {
        Err("must be a positive id".into())
    }
}

/// A handle: 3 to 30 of a-z, 0-9, '_'. Upper-case ASCII is folded, so handles are unique
/// regardless of case.
pub fn handle(value: &str) -> Result<String, String> {
    let handle = value.to_ascii_lowercase();
    let len = handle.chars().count();
    if !(3..=30).contains(&len) {
        return Err(format!("must be 3 to 30 characters, got {len}"));
    }
    if !handle
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("may only contain a-z, 0-9 and '_'".into());
    }
    Ok(handle)
}

/// A display name: at most 100 characters, no control characters.
pub fn display_name(value: &str) -> Result<String, String> {
    let len = value.chars().count();
    if len > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "must be at most {MAX_DISPLAY_NAME_CHARS} characters, got {len}"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

/// A post body: 1 to 2000 characters, not only white space, no control characters other than
/// line breaks and tabs (PostgreSQL cannot store NUL in text at all).
pub fn body(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("must not be empty or only white space".into());
    }
    let len = value.chars().count();
    if len > MAX_BODY_CHARS {
        return Err(format!(
            "must be at most {MAX_BODY_CHARS} characters, got {len}"
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    Ok(value.to_owned())
}

/// An optional idempotency key: empty means none; else 1 to 128 printable ASCII characters.
pub fn idempotency_key(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(format!(
            "must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters, got {}",
            value.len()
        ));
    }
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err("must be printable ASCII".into());
    }
    Ok(Some(value.to_owned()))
}

/// An optional token subject to bind a user to: empty means none; else at most 255
/// characters, no control characters.
pub fn subject(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(Some(value.to_owned()))
}

/// A page size: unset gives `default`; otherwise 1 to `max`.
pub fn page_size(value: Option<i32>, default: u64, max: u64) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && (n as u64) <= max => Ok(n as u64),
        Some(n) => Err(format!("must be between 1 and {max}, got {n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_fold_case_and_reject_the_rest() {
        assert_eq!(handle("Alice_1").unwrap(), "alice_1");
        for bad in ["ab", "a b c", "élan", &"x".repeat(31), "", "bob!"] {
            assert!(handle(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_counted_in_characters() {
        assert!(body(&"é".repeat(2000)).is_ok());
        assert!(body(&"é".repeat(2001)).is_err());
        assert!(body(" \n\t ").is_err());
        assert!(body("nul\0inside").is_err());
        assert!(body("two\nlines").is_ok());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, 20, 100), Ok(20));
        assert_eq!(page_size(Some(100), 20, 100), Ok(100));
        for bad in [0, -1, 101, i32::MIN] {
            assert!(page_size(Some(bad), 20, 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn followee_post_limits() {
        let limit = |n| page_size(n, DEFAULT_FOLLOWEE_POSTS, MAX_FOLLOWEE_POSTS);
        assert_eq!(limit(None), Ok(800));
        assert_eq!(limit(Some(1000)), Ok(1000));
        for bad in [0, -1, 1001] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(idempotency_key(""), Ok(None));
        assert_eq!(idempotency_key("k-1"), Ok(Some("k-1".into())));
        assert!(idempotency_key(&"k".repeat(129)).is_err());
        assert!(idempotency_key("tab\there").is_err());
    }
}
