//! Page tokens of post-service's listings, scoped to the listing and its subject (the encoding
//! is the kit's, see `feedline_service_kit::page_token`).

use feedline_service_kit::page_token as token;

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

fn scope(list: List, subject: i64) -> [u8; 9] {
    let mut scope = [0u8; 9];
    scope[0] = list as u8;
    scope[1..].copy_from_slice(&subject.to_be_bytes());
    scope
}

/// Encodes a token resuming `list` for `subject` after the key `after`.
pub fn encode(list: List, subject: i64, after: i64) -> String {
    token::encode(&scope(list, subject), &[after])
}

/// Decodes `token` for `list` and `subject`: `Ok(None)` for an empty token (first page),
/// `Ok(Some(after))` to resume, `Err(reason)` for anything else.
pub fn decode(token: &str, list: List, subject: i64) -> Result<Option<i64>, String> {
    Ok(token::decode::<1>(token, &scope(list, subject))?.map(|[after]| after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_list_and_subject() {
        let t = encode(List::Followers, 42, 1234);
        assert_eq!(decode(&t, List::Followers, 42), Ok(Some(1234)));
        assert!(decode(&t, List::Following, 42).is_err());
        assert!(decode(&t, List::Followers, 43).is_err());
    }
}
