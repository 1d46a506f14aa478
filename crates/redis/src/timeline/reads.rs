//! Every read of the timeline keys, by key, and the decoding of its reply. A list is "built"
//! when its sentinel is there, not when the key exists: an empty list then differs from a
//! missing one, and a rebuild cut short (the sentinel goes last) is rebuilt again.

use fred::prelude::{Error, FromValue};
use fred::types::Value;
use fred::types::sorted_sets::{ZRange, ZRangeBound, ZRangeKind};

use super::ops::Commands;
use crate::keys::{self, Entry, SENTINEL};

/// One read; each variant names the function that decodes its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// `ZSCORE tl:{user} "0"`: whether the timeline is built ([`built`]).
    TimelineBuilt(i64),
    /// `ZSCORE ap:{author} "0"`: whether the author's list is built ([`built`]).
    PostsBuilt(i64),
    /// `SISMEMBER fl:{author} "0"`: whether the follower index is built ([`built`]).
    FollowersBuilt(i64),
    /// `SCARD fl:{author}` ([`follower_count`]).
    FollowerCount(i64),
    /// `SMEMBERS fl:{author}` ([`follower_ids`]).
    Followers(i64),
    /// `SMISMEMBER fl:{author} user "0"`: whether `user` follows, if the index is built
    /// ([`follows`]).
    Follows {
        /// Whose index.
        author: i64,
        /// Who may be in it.
        user: i64,
    },
    /// `ZREVRANGE ap:{author} 0 count-1 WITHSCORES` ([`entries`]); `count` > 0 (ranks 0..-1
    /// would mean all).
    NewestPosts {
        /// Whose list.
        author: i64,
        /// How many, more than 0.
        count: usize,
    },
    /// `ZREVRANGE tl:{user} 0 count-1` ([`post_ids`]); `count` > 0.
    NewestInTimeline {
        /// Whose timeline.
        user: i64,
        /// How many, more than 0.
        count: usize,
    },
    /// `ZRANGE ap:{author} 0 -1` ([`members`]).
    AllPosts(i64),
    /// `ZRANGE ar:{author} 0 -1` ([`members`]).
    Retracted(i64),
    /// `ZREVRANGEBYSCORE key <at_most_millis or +inf> (0 WITHSCORES LIMIT offset count`: the
    /// entries of a `tl:` or `ap:` key from a millisecond down, newest first; `(0` leaves out
    /// the sentinel ([`page_entries`]).
    Page {
        /// A `tl:` or `ap:` key.
        key: String,
        /// The newest score wanted (a cursor's millisecond); None: from the newest.
        at_most_millis: Option<i64>,
        /// Entries skipped first.
        offset: usize,
        /// Entries at most.
        count: usize,
    },
    /// `GET pc:{post}` ([`super::cached`]).
    CachedPost(i64),
    /// `STRLEN pc:{post}` ([`is_tombstone`]).
    CacheLength(i64),
    /// `SMEMBERS celebrities` ([`celebrity_ids`]).
    Celebrities,
}

/// Sends `read` through `client`: through a pipeline it is queued (and `R` is `()`), through a
/// client it is answered.
pub async fn read<C: Commands, R: FromValue>(client: &C, read: Read) -> Result<R, Error> {
    match read {
        Read::TimelineBuilt(user) => client.zscore(keys::timeline(user), SENTINEL).await,
        Read::PostsBuilt(author) => client.zscore(keys::author_posts(author), SENTINEL).await,
        Read::FollowersBuilt(author) => client.sismember(keys::followers(author), SENTINEL).await,
        Read::FollowerCount(author) => client.scard(keys::followers(author)).await,
        Read::Followers(author) => client.smembers(keys::followers(author)).await,
        Read::Follows { author, user } => {
            let members = vec![user.to_string(), SENTINEL.to_owned()];
            client.smismember(keys::followers(author), members).await
        }
        Read::NewestPosts { author, count } => {
            let key = keys::author_posts(author);
            client.zrevrange(key, 0, last_rank(count), true).await
        }
        Read::NewestInTimeline { user, count } => {
            let key = keys::timeline(user);
            client.zrevrange(key, 0, last_rank(count), false).await
        }
        Read::AllPosts(author) => {
            let key = keys::author_posts(author);
            client.zrange(key, 0, -1, None, false, None, false).await
        }
        Read::Retracted(author) => {
            let key = keys::author_retracted(author);
            client.zrange(key, 0, -1, None, false, None, false).await
        }
        Read::Page {
            key,
            at_most_millis,
            offset,
            count,
        } => {
            let (max, min, limit) = page_range(at_most_millis, offset, count);
            client
                .zrevrangebyscore(key, max, min, true, Some(limit))
                .await
        }
        Read::CachedPost(post) => client.get(keys::post_cache(post)).await,
        Read::CacheLength(post) => client.strlen(keys::post_cache(post)).await,
        Read::Celebrities => client.smembers(keys::CELEBRITIES).await,
    }
}

/// The last rank of the first `count` entries.
fn last_rank(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX) - 1
}

/// The bounds of a [`Read::Page`].
fn page_range(
    at_most_millis: Option<i64>,
    offset: usize,
    count: usize,
) -> (ZRange, ZRange, (i64, i64)) {
    let max = ZRange {
        kind: ZRangeKind::Inclusive,
        range: match at_most_millis {
            Some(millis) => ZRangeBound::Score(millis as f64),
            None => ZRangeBound::InfiniteScore,
        },
    };
    let min = ZRange {
        kind: ZRangeKind::Exclusive,
        range: ZRangeBound::Score(0.0),
    };
    let limit = (
        i64::try_from(offset).unwrap_or(i64::MAX),
        i64::try_from(count).unwrap_or(i64::MAX),
    );
    (max, min, limit)
}

/// Whether a sentinel read (ZSCORE or SISMEMBER) says the list is built.
pub fn built(reply: &Value) -> bool {
    match reply {
        Value::Null => false,
        Value::Integer(n) => *n != 0,
        Value::Boolean(b) => *b,
        // A ZSCORE answer: the sentinel's score.
        _ => true,
    }
}

/// The followers of a built index from its SCARD (less the sentinel).
pub fn follower_count(reply: &Value) -> usize {
    let cardinality = reply.as_u64().unwrap_or(0);
    usize::try_from(cardinality.saturating_sub(1)).unwrap_or(usize::MAX)
}

/// The follower ids of an SMEMBERS of `fl:`, without the sentinel.
pub fn follower_ids(reply: Value) -> Result<Vec<i64>, Error> {
    let members: Vec<String> = reply.convert()?;
    Ok(parse_ids(&members))
}

/// Follower ids from `fl:` members, without the sentinel.
pub fn parse_ids(members: &[String]) -> Vec<i64> {
    members
        .iter()
        .filter(|m| m.as_str() != SENTINEL)
        .filter_map(|m| m.parse().ok())
        .collect()
}

/// From a [`Read::Follows`] reply: Some(whether the user follows) when the index is built.
pub fn follows(reply: Value) -> Result<Option<bool>, Error> {
    let membership: Vec<bool> = reply.convert()?;
    Ok(match membership.as_slice() {
        [follows, true] => Some(*follows),
        _ => None,
    })
}

/// The entries of a ZREVRANGE WITHSCORES, newest first, without the sentinel.
pub fn entries(reply: Value) -> Result<Vec<Entry>, Error> {
    let pairs: Vec<(String, f64)> = match reply {
        Value::Null => Vec::new(),
        value => value.convert()?,
    };
    Ok(pairs
        .into_iter()
        .filter(|(member, _)| member != SENTINEL)
        .map(|(member, score)| (score, member))
        .collect())
}

/// The members of a ZRANGE, without the sentinel.
pub fn members(reply: Value) -> Result<Vec<String>, Error> {
    let mut members: Vec<String> = match reply {
        Value::Null => Vec::new(),
        value => value.convert()?,
    };
    members.retain(|member| member != SENTINEL);
    Ok(members)
}

/// The post ids of a ZREVRANGE without scores (the sentinel and anything else skipped).
pub fn post_ids(reply: Value) -> Result<Vec<i64>, Error> {
    let members: Vec<String> = reply.convert()?;
    Ok(members
        .iter()
        .filter_map(|m| keys::parse_member(m))
        .collect())
}

/// Whether a [`Read::CacheLength`] reply is the tombstone's (an encoded post is never empty).
pub fn is_tombstone(reply: &Value) -> bool {
    reply.as_u64() == Some(0)
}

/// The listed authors of a [`Read::Celebrities`] reply.
pub fn celebrity_ids(reply: Value) -> Result<Vec<i64>, Error> {
    let members: Vec<String> = reply.convert()?;
    Ok(members
        .iter()
        .filter_map(|m| m.parse().ok())
        .filter(|&id: &i64| id > 0)
        .collect())
}

/// A [`Read::Page`] reply, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageEntries {
    /// Entries Redis returned, kept or not: what the next read's offset adds.
    pub returned: usize,
    /// (millis, post id) of the posts, newest first (the sentinel and non-ids skipped).
    pub entries: Vec<(i64, i64)>,
}

/// Decodes a [`Read::Page`] reply. Scores are whole milliseconds, exact in an f64.
pub fn page_entries(reply: Value) -> Result<PageEntries, Error> {
    let reply: Vec<(String, f64)> = match reply {
        Value::Null => Vec::new(),
        reply => reply.convert()?,
    };
    Ok(PageEntries {
        returned: reply.len(),
        entries: reply
            .into_iter()
            .filter_map(|(member, score)| Some((score as i64, keys::parse_member(&member)?)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sentinel_replies() {
        assert!(!built(&Value::Null));
        assert!(!built(&Value::Integer(0)));
        assert!(built(&Value::Integer(1)));
        assert!(built(&Value::Double(0.0)));
        assert!(built(&Value::String("0".into())));
    }

    #[test]
    fn skips_the_sentinel_in_follower_ids() {
        let members = ["0", "12", "7"].map(String::from);
        assert_eq!(parse_ids(&members), vec![12, 7]);
        assert_eq!(follower_count(&Value::Integer(3)), 2);
    }

    #[test]
    fn pages_skip_the_sentinel_but_count_it() {
        let reply = Value::Array(vec![
            Value::from("0000000000000000009"),
            Value::from(100.0),
            Value::from("0"),
            Value::from(0.0),
        ]);
        let page = page_entries(reply).unwrap();
        assert_eq!(page.returned, 2);
        assert_eq!(page.entries, vec![(100, 9)]);
    }
}
