//! The kinds of fan-out event, defined once for every hop of the fan-out path: each kind's label
//! (in metrics, spans, logs and the outbox's `kind` column) and the ordering key of an event.

use super::FanoutEvent;
use super::fanout_event::Kind;

/// What a fan-out event does, without its data: the `oneof kind` of [`FanoutEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A post was created (`DeliverPost`).
    DeliverPost,
    /// A post was deleted (`RetractPost`).
    RetractPost,
    /// A follow edge was created (`AddFollow`).
    AddFollow,
    /// A follow edge was removed (`RemoveFollow`).
    RemoveFollow,
}

/// The label of an event that names no kind (a malformed one), in spans and logs.
pub const NO_KIND_LABEL: &str = "none";

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::DeliverPost,
        Self::RetractPost,
        Self::AddFollow,
        Self::RemoveFollow,
    ];

    /// The kind's label: the name of its field in `FanoutEvent.kind`. Operators read it in the
    /// outbox tables, in spans (`event_kind`) and in logs, so it never changes.
    pub const fn label(self) -> &'static str {
        match self {
            Self::DeliverPost => "deliver_post",
            Self::RetractPost => "retract_post",
            Self::AddFollow => "add_follow",
            Self::RemoveFollow => "remove_follow",
        }
    }
}

impl Kind {
    /// What this event does.
    pub fn event_kind(&self) -> EventKind {
        match self {
            Self::DeliverPost(_) => EventKind::DeliverPost,
            Self::RetractPost(_) => EventKind::RetractPost,
            Self::AddFollow(_) => EventKind::AddFollow,
            Self::RemoveFollow(_) => EventKind::RemoveFollow,
        }
    }

    /// The key whose events must apply in the order they were committed: a post's author, a
    /// follow's followee (so an unfollow is never overtaken by an older post of the followee,
    /// and one (follower, followee) pair's follows and unfollows keep their order). The relay
    /// holds a key's later events behind a failing one; fanout-service runs one key's events
    /// one unit at a time; the outbox stores it in `ordering_key` for admission control. A
    /// delivery without its post (malformed, never written) has key 0.
    pub fn ordering_key(&self) -> i64 {
        match self {
            Self::DeliverPost(d) => d.post.as_ref().map_or(0, |p| p.author_id),
            Self::RetractPost(r) => r.author_id,
            Self::AddFollow(f) => f.followee_id,
            Self::RemoveFollow(f) => f.followee_id,
        }
    }
}

impl FanoutEvent {
    /// What this event does; `None` when it names no kind (malformed).
    pub fn event_kind(&self) -> Option<EventKind> {
        self.kind.as_ref().map(Kind::event_kind)
    }

    /// The label of its kind, or [`NO_KIND_LABEL`].
    pub fn kind_label(&self) -> &'static str {
        self.event_kind().map_or(NO_KIND_LABEL, EventKind::label)
    }

    /// Its ordering key (see [`Kind::ordering_key`]); `None` when it names no kind.
    pub fn ordering_key(&self) -> Option<i64> {
        self.kind.as_ref().map(Kind::ordering_key)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_types::FileDescriptorSet;

    use super::*;
    use crate::fanout::v1::{AddFollow, DeliverPost, RemoveFollow, RetractPost};
    use crate::post::v1::Post;

    #[test]
    fn labels_are_the_oneof_field_names() {
        let set = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let event = set
            .file
            .iter()
            .filter(|f| f.package() == "feedline.fanout.v1")
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == "FanoutEvent")
            .unwrap();
        let oneof = event
            .oneof_decl
            .iter()
            .position(|o| o.name() == "kind")
            .unwrap();
        let fields: Vec<&str> = event
            .field
            .iter()
            .filter(|f| f.oneof_index == Some(oneof as i32))
            .map(|f| f.name())
            .collect();
        let labels: Vec<&str> = EventKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(fields, labels);
    }

    #[test]
    fn the_ordering_key_is_the_author_or_the_followee() {
        let post = Post {
            post_id: 1,
            author_id: 7,
            ..Default::default()
        };
        let cases = [
            (Kind::DeliverPost(DeliverPost { post: Some(post) }), 7),
            (Kind::DeliverPost(DeliverPost { post: None }), 0),
            (
                Kind::RetractPost(RetractPost {
                    post_id: 1,
                    author_id: 8,
                }),
                8,
            ),
            (
                Kind::AddFollow(AddFollow {
                    follower_id: 1,
                    followee_id: 9,
                }),
                9,
            ),
            (
                Kind::RemoveFollow(RemoveFollow {
                    follower_id: 1,
                    followee_id: 10,
                }),
                10,
            ),
        ];
        for (kind, key) in cases {
            assert_eq!(kind.ordering_key(), key, "{kind:?}");
        }
        let none = FanoutEvent::default();
        assert_eq!((none.ordering_key(), none.kind_label()), (None, "none"));
    }
}
