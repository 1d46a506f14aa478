//! Where a page ends: a position in the timeline's order, and the opaque token that carries it.

use feedline_service_kit::page_token;

/// A position in a timeline, which is ordered newest first by (creation ms, post id). The next
/// page holds what comes strictly after it. Being a position, not an offset, it stays exact
/// while posts are added above it or removed anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time of the last post of the page, Unix ms (its score in the sorted sets).
    pub millis: i64,
    /// Its id: breaks ties between posts of the same millisecond.
    pub post_id: i64,
}

impl Cursor {
    /// Whether the entry (`millis`, `post_id`) comes after this position, newest first.
    pub fn precedes(&self, millis: i64, post_id: i64) -> bool {
        (millis, post_id) < (self.millis, self.post_id)
    }

    /// The token for `user`'s next page.
    pub fn encode(&self, user: i64) -> String {
        page_token::encode(&scope(user), &[self.millis, self.post_id])
    }

    /// Reads a token of `user`'s feed: Ok(None) for the empty token (first page); Err for a
    /// token that is altered, of another user or another listing, or out of range.
    pub fn decode(token: &str, user: i64) -> Result<Option<Cursor>, String> {
        let Some([millis, post_id]) = page_token::decode::<2>(token, &scope(user))? else {
            return Ok(None);
        };
        if millis < 0 || post_id <= 0 {
            return Err("page token out of range".to_owned());
        }
        Ok(Some(Cursor { millis, post_id }))
    }
}

/// A token is bound to the feed and the user it pages.
fn scope(user: i64) -> Vec<u8> {
    format!("feed/{user}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_bound_to_the_user() {
        let c = Cursor {
            millis: 1_700_000_000_123,
            post_id: 42,
        };
        let token = c.encode(7);
        assert_eq!(Cursor::decode(&token, 7), Ok(Some(c)));
        assert_eq!(Cursor::decode("", 7), Ok(None));
        assert!(Cursor::decode(&token, 8).is_err(), "another user's token");
        assert!(Cursor::decode("garbage!", 7).is_err());
        let mut altered = token.into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        assert!(Cursor::decode(std::str::from_utf8(&altered).unwrap(), 7).is_err());
        // Another listing's token (same user id) is refused too.
        let foreign = page_token::encode(b"followers/7", &[1, 2]);
        assert!(Cursor::decode(&foreign, 7).is_err());
        let negative = page_token::encode(&scope(7), &[5, -1]);
        assert!(Cursor::decode(&negative, 7).is_err());
    }

    #[test]
    fn orders_newest_first_with_id_tie_break() {
        let c = Cursor {
            millis: 100,
            post_id: 50,
        };
        assert!(c.precedes(99, 1_000));
        assert!(c.precedes(100, 49));
        assert!(!c.precedes(100, 50));
        assert!(!c.precedes(100, 51));
        assert!(!c.precedes(101, 1));
    }
}
