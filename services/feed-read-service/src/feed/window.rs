//! The candidates of a page: what comes after the cursor in the user's `tl:` and in the `ap:`
//! of every celebrity they follow, merged newest first without duplicates.
//!
//! The merge is exact: each list is read until it has one entry more than the page needs (or
//! ends), so the first `want` of the merge are the first `want` of the union, and whether
//! anything is left is known without another read.

use std::collections::HashSet;

use feedline_redis::keys;
use feedline_redis::timeline::{self, Read, read};
use fred::types::Value;

use super::celebrities::Celebrities;
use super::{Cursor, Feed, Source};
use crate::error::FeedError;

/// Entries read per list beyond what the page needs: room for the sentinel and for entries
/// tied with the cursor, so that one read almost always suffices.
const SLACK: usize = 8;

/// A post that may go into the page, in timeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    /// Creation time, Unix ms.
    pub millis: i64,
    pub post_id: i64,
    pub source: Source,
}

impl Candidate {
    /// The position just after this candidate.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            millis: self.millis,
            post_id: self.post_id,
        }
    }
}

/// The next candidates after a cursor.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// At most the number asked for, newest first.
    pub candidates: Vec<Candidate>,
    /// Whether any list holds more after the last candidate.
    pub more: bool,
}

/// One sorted set's entries after the cursor, as read so far.
#[derive(Debug)]
struct List {
    key: String,
    source: Source,
    /// (millis, post id), newest first, all after the cursor.
    entries: Vec<(i64, i64)>,
    /// Entries Redis has returned so far, kept or not: the offset of the next read.
    offset: usize,
    /// Redis returned a short read: nothing more after the last entry.
    exhausted: bool,
}

impl List {
    fn new(key: String, source: Source) -> Self {
        Self {
            key,
            source,
            entries: Vec::new(),
            offset: 0,
            exhausted: false,
        }
    }

    /// Takes one [`Read::Page`] reply of `asked` entries at most.
    fn absorb(
        &mut self,
        reply: Value,
        asked: usize,
        after: Option<Cursor>,
    ) -> Result<(), FeedError> {
        let page = timeline::page_entries(reply)?;
        self.offset += page.returned;
        self.exhausted = page.returned < asked;
        // Entries of the cursor's own millisecond up to the cursor were on earlier pages.
        let after_cursor = |&(millis, post_id): &(i64, i64)| {
            after.is_none_or(|cursor| cursor.precedes(millis, post_id))
        };
        self.entries
            .extend(page.entries.into_iter().filter(after_cursor));
        Ok(())
    }

    /// The read of up to `count` entries after what this list has read so far.
    fn next_read(&self, after: Option<Cursor>, count: usize) -> Read {
        Read::Page {
            key: self.key.clone(),
            at_most_millis: after.map(|cursor| cursor.millis),
            offset: self.offset,
            count,
        }
    }
}

impl Feed {
    /// The first `want` candidates after `after`, and whether more follow. Rebuilds a
    /// timeline found without its sentinel before reading it.
    pub(super) async fn window(
        &self,
        user: i64,
        after: Option<Cursor>,
        want: usize,
    ) -> Result<Window, FeedError> {
        let asked = want + 1 + SLACK;
        // From memory almost always; a join with the timeline read would not save a trip.
        let celebrities = self.celebrities(user).await?;
        let read = self.read_timeline(user, after, asked).await?;
        let timeline = match read {
            (true, timeline) => timeline,
            (false, _) => {
                // What a rebuild writes stays: it leaves out the authors listed now, not the
                // ones the cache remembers.
                let listed = Celebrities::read(&self.redis).await?;
                self.rebuild(user, &listed).await?;
                // Whatever the read finds now is the rebuilt timeline (a flush racing this
                // read leaves it empty, which the next read rebuilds again).
                self.read_timeline(user, after, asked).await?.1
            }
        };
        let mut lists = vec![timeline];
        lists.extend(self.read_pulled(user, &celebrities, after, asked).await?);
        for list in &mut lists {
            self.complete(list, after, want + 1).await?;
        }
        Ok(merge(lists, want))
    }

    /// Reads the first entries of `tl:{user}` after `after`; false when the timeline is not
    /// built (no sentinel).
    async fn read_timeline(
        &self,
        user: i64,
        after: Option<Cursor>,
        asked: usize,
    ) -> Result<(bool, List), FeedError> {
        let mut list = List::new(keys::timeline(user), Source::Fanout);
        // A pipeline, not concurrent commands: each fred command future is about 5 KB, and
        // moving several into a join cost more CPU than the writes it saved (measured).
        let pipeline = self.redis.pipeline();
        read::<_, ()>(&pipeline, Read::TimelineBuilt(user)).await?;
        read::<_, ()>(&pipeline, list.next_read(after, asked)).await?;
        let mut replies: Vec<Value> = pipeline.all().await?;
        let entries = replies.pop().unwrap_or(Value::Null);
        let built = replies.pop().is_some_and(|reply| timeline::built(&reply));
        list.absorb(entries, asked, after)?;
        Ok((built, list))
    }

    /// The authors whose posts readers pull (the user themself excluded), as listed at most
    /// `celebrities_refresh` ago.
    async fn celebrities(&self, user: i64) -> Result<Vec<i64>, FeedError> {
        let listed = self.celebrities.get(&self.redis).await?;
        Ok(listed.iter().copied().filter(|&id| id != user).collect())
    }

    /// The `ap:` lists of the celebrities `user` follows, first entries after `after`. One
    /// pipeline: per celebrity, whether `user` is in its follower index and its newest posts
    /// (same slot). An index not built in Redis is answered by post-service instead.
    async fn read_pulled(
        &self,
        user: i64,
        celebrities: &[i64],
        after: Option<Cursor>,
        asked: usize,
    ) -> Result<Vec<List>, FeedError> {
        if celebrities.is_empty() {
            return Ok(Vec::new());
        }
        let pipeline = self.redis.pipeline();
        let lists: Vec<List> = celebrities
            .iter()
            .map(|&celebrity| List::new(keys::author_posts(celebrity), Source::Pulled))
            .collect();
        for (&celebrity, list) in celebrities.iter().zip(&lists) {
            let follows = Read::Follows {
                author: celebrity,
                user,
            };
            read::<_, ()>(&pipeline, follows).await?;
            read::<_, ()>(&pipeline, list.next_read(after, asked)).await?;
        }
        let replies: Vec<Value> = pipeline.all().await?;
        let mut following: Option<HashSet<i64>> = None;
        let mut pulled = Vec::new();
        for ((&celebrity, mut list), pair) in celebrities.iter().zip(lists).zip(replies.chunks(2)) {
            let [membership, entries] = pair else {
                continue;
            };
            let follows = match timeline::follows(membership.clone())? {
                Some(follows) => follows,
                // The index is not built: ask the source of truth (once per read).
                None => {
                    if following.is_none() {
                        following = Some(self.source.following(user).await?);
                    }
                    following.as_ref().is_some_and(|f| f.contains(&celebrity))
                }
            };
            if follows {
                list.absorb(entries.clone(), asked, after)?;
                pulled.push(list);
            }
        }
        Ok(pulled)
    }

    /// Reads on until `list` holds `need` entries or ends (only entries tied with the cursor
    /// or a sentinel can leave the first read short).
    async fn complete(
        &self,
        list: &mut List,
        after: Option<Cursor>,
        need: usize,
    ) -> Result<(), FeedError> {
        while !list.exhausted && list.entries.len() < need {
            let asked = need - list.entries.len() + SLACK;
            let reply: Value = read(&self.redis, list.next_read(after, asked)).await?;
            list.absorb(reply, asked, after)?;
        }
        Ok(())
    }
}

/// Merges the lists newest first, a post in several once (as fanned out if it was), and keeps
/// the first `want`.
fn merge(lists: Vec<List>, want: usize) -> Window {
    let mut all: Vec<Candidate> = lists
        .into_iter()
        .flat_map(|list| {
            let source = list.source;
            list.entries
                .into_iter()
                .map(move |(millis, post_id)| Candidate {
                    millis,
                    post_id,
                    source,
                })
        })
        .collect();
    // A post has one time, so its copies sort together; Fanout sorts before Pulled.
    all.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.millis),
            std::cmp::Reverse(c.post_id),
            c.source == Source::Pulled,
        )
    });
    all.dedup_by_key(|c| c.post_id);
    let more = all.len() > want;
    all.truncate(want);
    Window {
        candidates: all,
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(source: Source, entries: &[(i64, i64)]) -> List {
        List {
            key: String::new(),
            source,
            entries: entries.to_vec(),
            offset: entries.len(),
            exhausted: true,
        }
    }

    #[test]
    fn merges_newest_first_and_prefers_the_fanned_out_copy() {
        let timeline = list(Source::Fanout, &[(30, 3), (20, 2), (10, 1)]);
        let pulled = list(Source::Pulled, &[(25, 9), (20, 2), (20, 1_000)]);
        let window = merge(vec![timeline, pulled], 4);
        let got: Vec<(i64, Source)> = window
            .candidates
            .iter()
            .map(|c| (c.post_id, c.source))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, Source::Fanout),
                (9, Source::Pulled),
                (1_000, Source::Pulled),
                (2, Source::Fanout),
            ]
        );
        assert!(window.more, "post 1 is left");
        let all = merge(
            vec![
                list(Source::Fanout, &[(2, 2)]),
                list(Source::Pulled, &[(1, 1)]),
            ],
            2,
        );
        assert!(!all.more);
        assert_eq!(all.candidates.len(), 2);
    }

    #[test]
    fn absorb_skips_the_sentinel_and_what_the_cursor_covers() {
        let mut l = List::new("tl:{1}".into(), Source::Fanout);
        let reply = Value::Array(vec![
            Value::from("0000000000000000009"),
            Value::from(100.0),
            Value::from("0000000000000000007"),
            Value::from(100.0),
            Value::from("0000000000000000008"),
            Value::from(99.0),
            Value::from("0"),
            Value::from(0.0),
        ]);
        let after = Some(Cursor {
            millis: 100,
            post_id: 9,
        });
        l.absorb(reply, 5, after).unwrap();
        assert_eq!(l.entries, vec![(100, 7), (99, 8)]);
        assert_eq!(l.offset, 4);
        assert!(l.exhausted, "4 of 5 asked");
    }
}
