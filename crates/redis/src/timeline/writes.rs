//! Every write of the timeline keys, by key. The sentinel (member "0", score 0) goes last into
//! a rebuilt list, so a rebuild cut short is rebuilt again rather than trusted; `tl:` and `ap:`
//! are trimmed to the cap behind their ZADDs; `pc:` keys carry the TTL, and only a retraction
//! overwrites one (every other write is `SET NX`, so no post read before a retraction
//! overwrites its tombstone).

use feedline_proto::post::v1::Post;
use fred::bytes::Bytes;

use super::cache::post_value;
use super::ops::{Encoded, KeyWrites, Op, encode};
use super::rules::Rules;
use crate::keys::{self, Entry, SENTINEL};

/// Follower ids per SADD when rebuilding an index.
const SADD_CHUNK: usize = 1000;

impl Rules {
    /// The trim of a `tl:` or `ap:`: see [`Rules::trim_ranks`].
    pub fn trim(&self) -> Op {
        let (start, stop) = self.trim_ranks();
        Op::ZremRangeByRank(start, stop)
    }

    /// `tl:{user}`: fanned-out entries (encoded once per post, shared by every timeline), then
    /// the trim when `trim` (about 1 in `trim_every` inserts: `keys::should_trim`).
    pub fn fan_in(&self, user: i64, entries: Vec<Encoded>, trim: bool) -> KeyWrites {
        let mut ops = vec![Op::Zadd(entries)];
        if trim {
            ops.push(self.trim());
        }
        KeyWrites {
            key: keys::timeline(user),
            ops,
        }
    }

    /// `tl:{follower}`: a followee's newest posts, always trimmed (a follow is rare, and a
    /// backfill can add many entries at once).
    pub fn backfill(&self, follower: i64, entries: &[Entry]) -> KeyWrites {
        KeyWrites {
            key: keys::timeline(follower),
            ops: vec![zadd(entries), self.trim()],
        }
    }

    /// `tl:{user}` rebuilt: one ZADD of the entries and the sentinel (so the sentinel never
    /// lands without them), then the trim (fan-out may have added entries before).
    pub fn rebuilt_timeline(&self, user: i64, entries: &[Entry]) -> KeyWrites {
        let mut encoded: Vec<Encoded> = entries.iter().map(encode).collect();
        encoded.push(sentinel());
        KeyWrites {
            key: keys::timeline(user),
            ops: vec![Op::Zadd(encoded), self.trim()],
        }
    }

    /// `ap:{author}`: a new post, then the trim.
    pub fn record_post(&self, author: i64, entry: &Entry) -> KeyWrites {
        KeyWrites {
            key: keys::author_posts(author),
            ops: vec![zadd(std::slice::from_ref(entry)), self.trim()],
        }
    }

    /// `ap:{author}` rebuilt: the entries (if any), the sentinel, the trim.
    pub fn rebuilt_author_posts(&self, author: i64, entries: &[Entry]) -> KeyWrites {
        let mut ops = Vec::with_capacity(3);
        if !entries.is_empty() {
            ops.push(zadd(entries));
        }
        ops.push(Op::Zadd(vec![sentinel()]));
        ops.push(self.trim());
        KeyWrites {
            key: keys::author_posts(author),
            ops,
        }
    }

    /// `ar:{author}`: a deleted post (`member`) remembered, scored 0, for a later or replayed
    /// unfollow (see `keys::author_retracted`); the `cap` newest deletions are kept.
    pub fn retracted(&self, author: i64, member: &str) -> KeyWrites {
        let (start, stop) = self.retracted_trim_ranks();
        KeyWrites {
            key: keys::author_retracted(author),
            ops: vec![
                Op::Zadd(vec![encode(&(0.0, member.to_owned()))]),
                Op::ZremRangeByRank(start, stop),
            ],
        }
    }

    /// `pc:{post}`: the post cached, unless the key holds something already (NX: never over a
    /// retraction's tombstone).
    pub fn cache_post(&self, post: &Post) -> KeyWrites {
        self.set_cache(post.post_id, post_value(post), true)
    }

    /// `pc:{post_id}`: a tombstone for a post the source does not know (deleted or never
    /// created), unless the key holds something already (NX).
    pub fn cache_missing(&self, post_id: i64) -> KeyWrites {
        self.set_cache(post_id, Bytes::new(), true)
    }

    /// `pc:{post_id}`: the tombstone of a retraction, over whatever the key held: readers stop
    /// showing the post as soon as it lands.
    pub fn tombstone(&self, post_id: i64) -> KeyWrites {
        self.set_cache(post_id, Bytes::new(), false)
    }

    fn set_cache(&self, post_id: i64, value: Bytes, nx: bool) -> KeyWrites {
        KeyWrites {
            key: keys::post_cache(post_id),
            ops: vec![Op::Set {
                value,
                ex_secs: self.cache_ex_secs(),
                nx,
            }],
        }
    }
}

/// `tl:{user}`: `members` removed (a retraction, an unfollow).
pub fn unfan(user: i64, members: Vec<String>) -> KeyWrites {
    KeyWrites {
        key: keys::timeline(user),
        ops: vec![Op::Zrem(members)],
    }
}

/// `ap:{author}`: a deleted post's `member` removed.
pub fn unlist_post(author: i64, member: &str) -> KeyWrites {
    KeyWrites {
        key: keys::author_posts(author),
        ops: vec![Op::Zrem(vec![member.to_owned()])],
    }
}

/// `fl:{followee}`: `follower` added; into an unbuilt index too, which is harmless (its rebuild
/// lists this committed edge).
pub fn follow(followee: i64, follower: i64) -> KeyWrites {
    KeyWrites {
        key: keys::followers(followee),
        ops: vec![Op::Sadd(vec![follower.to_string()])],
    }
}

/// `fl:{followee}`: `follower` removed.
pub fn unfollow(followee: i64, follower: i64) -> KeyWrites {
    KeyWrites {
        key: keys::followers(followee),
        ops: vec![Op::Srem(vec![follower.to_string()])],
    }
}

/// `fl:{author}` rebuilt: the ids in SADDs of a thousand, then the sentinel.
pub fn rebuilt_followers(author: i64, followers: &[i64]) -> KeyWrites {
    let mut ops: Vec<Op> = followers
        .chunks(SADD_CHUNK)
        .map(|ids| Op::Sadd(ids.iter().map(ToString::to_string).collect()))
        .collect();
    ops.push(Op::Sadd(vec![SENTINEL.to_owned()]));
    KeyWrites {
        key: keys::followers(author),
        ops,
    }
}

/// `celebrities`: `author` listed, so readers pull their posts (idempotent).
pub fn celebrity(author: i64) -> KeyWrites {
    KeyWrites {
        key: keys::CELEBRITIES.to_owned(),
        ops: vec![Op::Sadd(vec![author.to_string()])],
    }
}

/// A ZADD of `entries`.
fn zadd(entries: &[Entry]) -> Op {
    Op::Zadd(entries.iter().map(encode).collect())
}

/// The sentinel entry, encoded.
fn sentinel() -> Encoded {
    encode(&(0.0, SENTINEL.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rebuilds_put_the_sentinel_last_and_trim() {
        let rules = Rules::new(3, Duration::from_secs(60));
        let entry = (5.0, keys::member(9));
        let tl = rules.rebuilt_timeline(1, std::slice::from_ref(&entry));
        assert_eq!(tl.key, "tl:{1}");
        assert_eq!(
            tl.ops,
            vec![
                Op::Zadd(vec![encode(&entry), sentinel()]),
                Op::ZremRangeByRank(1, -4)
            ]
        );
        let ap = rules.rebuilt_author_posts(2, &[]);
        assert_eq!(
            ap.ops,
            vec![Op::Zadd(vec![sentinel()]), Op::ZremRangeByRank(1, -4)]
        );
        let ids: Vec<i64> = (1..=1001).collect();
        let fl = rebuilt_followers(2, &ids);
        assert_eq!(fl.ops.len(), 3);
        assert_eq!(fl.ops[2], Op::Sadd(vec![SENTINEL.to_owned()]));
    }

    #[test]
    fn only_a_retraction_overwrites_a_cached_post() {
        let rules = Rules::new(3, Duration::from_secs(60));
        let nx = |w: &KeyWrites| matches!(w.ops[..], [Op::Set { nx, ex_secs: 60, .. }] if nx);
        assert!(!nx(&rules.tombstone(7)));
        assert!(nx(&rules.cache_missing(7)));
        assert!(nx(&rules.cache_post(&Post {
            post_id: 7,
            ..Default::default()
        })));
    }
}
