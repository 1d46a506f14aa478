//! The ordering key of a fan-out event: the one rule, used by the store (which writes it into
//! `outbox.ordering_key`, where admission control reads it) and by the relay (which holds an
//! author's later events behind a failing one).

use feedline_proto::fanout::v1::fanout_event::Kind;

/// The key whose events must apply in order: a post's author, a follow's followee (the rule
/// fanout-service orders by). A delivery without its post (never written) has key 0.
pub fn ordering_key(kind: &Kind) -> i64 {
    match kind {
        Kind::DeliverPost(d) => d.post.as_ref().map_or(0, |p| p.author_id),
        Kind::RetractPost(r) => r.author_id,
        Kind::AddFollow(f) => f.followee_id,
        Kind::RemoveFollow(f) => f.followee_id,
    }
}
