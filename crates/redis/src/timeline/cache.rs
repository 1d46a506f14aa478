//! The values of `pc:{P}`: a post as protobuf bytes, or the empty string, the tombstone a
//! retraction writes first (an encoded post is never empty: it has an id and a body).

use feedline_proto::post::v1::Post;
use feedline_proto::prost::Message as _;
use fred::bytes::Bytes;
use fred::types::Value;

/// What the cache holds for a post.
#[derive(Clone, Debug, PartialEq)]
pub enum Cached {
    /// The post.
    Post(Post),
    /// The tombstone: the post was deleted.
    Deleted,
    /// Nothing, or nothing that decodes (fetched again; an NX write leaves it to expire).
    Missing,
}

/// The cached form of `post`.
pub fn post_value(post: &Post) -> Bytes {
    Bytes::from(post.encode_to_vec())
}

/// Decodes a GET reply of `pc:` ([`super::Read::CachedPost`]).
pub fn cached(reply: Value) -> Cached {
    let bytes = match &reply {
        Value::Null => return Cached::Missing,
        Value::Bytes(bytes) => bytes.as_ref(),
        Value::String(text) => text.as_bytes(),
        _ => return Cached::Missing,
    };
    if bytes.is_empty() {
        return Cached::Deleted;
    }
    match Post::decode(bytes) {
        Ok(post) if post.post_id > 0 => Cached::Post(post),
        _ => Cached::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_posts_tombstones_and_misses() {
        let post = Post {
            post_id: 5,
            author_id: 2,
            body: "hi".into(),
            create_time: None,
        };
        let encoded = Value::Bytes(post_value(&post));
        assert_eq!(cached(encoded), Cached::Post(post));
        assert_eq!(cached(Value::from("")), Cached::Deleted);
        assert_eq!(cached(Value::Null), Cached::Missing);
        assert_eq!(cached(Value::from("\u{ff}not protobuf")), Cached::Missing);
    }
}
