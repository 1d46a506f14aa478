//! A write's wire form: [`Op`]s on one key ([`KeyWrites`]), and sending them through a
//! pipeline (queued) or a client (sent at once). Every timeline write goes out through
//! [`queue`], so each command has one shape.

use fred::bytes::Bytes;
use fred::interfaces::{ClientLike, KeysInterface, SetsInterface, SortedSetsInterface};
use fred::prelude::Error;
use fred::types::sorted_sets::MultipleZaddValues;
use fred::types::{Expiration, SetOptions, Value};

use crate::keys::Entry;

/// A sorted-set entry as a ZADD takes it: the score, and the member encoded once per post and
/// shared by every timeline it goes to (a copy is a reference count, not an allocation).
pub type Encoded = (f64, Bytes);

/// The wire form of `entry`. Scores are whole milliseconds (or the sentinel's 0), which fred's
/// typed ZADD writes as `f64` displays them: without exponent or fraction, as Redis reads them.
pub fn encode(entry: &Entry) -> Encoded {
    let (score, member) = entry;
    (*score, Bytes::from(member.clone()))
}

/// One command on the key of its [`KeyWrites`].
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// ZADD of (score, member) pairs, encoded.
    Zadd(Vec<Encoded>),
    /// ZREM of members.
    Zrem(Vec<String>),
    /// ZREMRANGEBYRANK start stop.
    ZremRangeByRank(i64, i64),
    /// SADD of members.
    Sadd(Vec<String>),
    /// SREM of members.
    Srem(Vec<String>),
    /// SET value EX `ex_secs`, with NX when `nx`.
    Set {
        /// The value (empty: a tombstone).
        value: Bytes,
        /// Its lifetime, seconds.
        ex_secs: i64,
        /// Only if the key does not exist yet.
        nx: bool,
    },
}

/// The commands for one key, kept in one pipeline and in order (a ZADD before its trim, a
/// rebuild before its sentinel).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyWrites {
    /// The key every op applies to.
    pub key: String,
    /// Sent in this order.
    pub ops: Vec<Op>,
}

/// What [`queue`] sends through: a clustered `Client` (each command sent and answered) or its
/// `Pipeline` (each command buffered; the pipeline's `all` answers them).
pub trait Commands:
    ClientLike + KeysInterface + SetsInterface + SortedSetsInterface + Sync
{
}

impl<C> Commands for C where
    C: ClientLike + KeysInterface + SetsInterface + SortedSetsInterface + Sync
{
}

/// Sends every op of `writes`, in order, through `client`.
pub async fn queue_all<C: Commands>(client: &C, writes: Vec<KeyWrites>) -> Result<(), Error> {
    for write in writes {
        for op in write.ops {
            queue(client, write.key.clone(), op).await?;
        }
    }
    Ok(())
}

/// Sends one command through `client`: a pipeline's await returns as soon as it is buffered.
pub async fn queue<C: Commands>(client: &C, key: String, op: Op) -> Result<(), Error> {
    match op {
        Op::Zadd(entries) => {
            // Typed, not a custom command: fred flushes the socket after every custom command,
            // so a pipeline of them went out one `writev` each (a profile of the random-followers
            // shape: a fifth of fanout-service's CPU in `writev`). The member is shared, not
            // copied; only the score is formatted per timeline.
            let values: MultipleZaddValues = entries
                .into_iter()
                .map(|(score, member)| (score, Value::Bytes(member)))
                .collect();
            client.zadd(key, None, None, false, false, values).await?
        }
        Op::Zrem(members) => client.zrem(key, members).await?,
        Op::ZremRangeByRank(start, stop) => client.zremrangebyrank(key, start, stop).await?,
        Op::Sadd(members) => client.sadd(key, members).await?,
        Op::Srem(members) => client.srem(key, members).await?,
        Op::Set { value, ex_secs, nx } => {
            let nx = nx.then_some(SetOptions::NX);
            client
                .set(key, value, Some(Expiration::EX(ex_secs)), nx, false)
                .await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_encoded_as_redis_reads_scores() {
        let post = encode(&(1_733_500_000_123.0, "0000000000000000005".to_owned()));
        assert_eq!(post.0.to_string(), "1733500000123");
        assert_eq!(&post.1[..], b"0000000000000000005");
        assert_eq!(encode(&(0.0, "0".to_owned())).0.to_string(), "0");
    }
}
