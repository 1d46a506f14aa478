//! The one owner of the timeline keys' rules: what fanout-service and feed-read-service write
//! into `tl:`, `ap:`, `ar:`, `fl:`, `pc:` and `celebrities`, and how they read them back.
//!
//! Neither service writes these keys by hand: a write is a [`KeyWrites`] made here (the ZADD,
//! ZREM and SET shapes, the sentinel, the trim, `SET NX`, the TTL), sent through [`queue`] or
//! [`queue_all`] on a pipeline or a client; a read is a [`Read`] sent through [`read`], its reply
//! decoded by the function its variant names. How writes are batched (fan-out's per-node
//! pipelines) stays with the caller. Key names and the member encoding are [`crate::keys`].
//!
//! - `rules`: the numbers, cap (the trim) and TTL.
//! - `ops`: a write's wire form, [`Op`] and [`KeyWrites`], and sending it.
//! - `writes`: every write, by key.
//! - `reads`: every read, by key, and the decoding of its reply.
//! - `cache`: the `pc:` values, a post or a tombstone.

mod cache;
mod ops;
mod reads;
mod rules;
mod writes;

pub use cache::{Cached, cached, post_value};
pub use ops::{Commands, Encoded, KeyWrites, Op, encode, queue, queue_all};
pub use reads::{
    PageEntries, Read, built, celebrity_ids, entries, follower_count, follower_ids, follows,
    is_tombstone, members, page_entries, parse_ids, post_ids, read,
};
pub use rules::Rules;
pub use writes::{celebrity, follow, rebuilt_followers, unfan, unfollow, unlist_post};
