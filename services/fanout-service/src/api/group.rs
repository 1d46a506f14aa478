//! Which events commute across keys and so are applied together, one group of many keys: the
//! one place fanout-service tells event kinds apart for ordering (their labels and ordering key
//! are defined in `feedline_proto`, beside the generated type).

use feedline_proto::fanout::v1::EventKind;

/// How a group is applied: its events are all deliveries, or all follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum GroupKind {
    /// DeliverPost events of any authors.
    Deliveries,
    /// AddFollow events of any followees.
    Follows,
}

impl GroupKind {
    /// The group an event of `kind` may join; `None` when it runs alone (a retraction, an
    /// unfollow).
    pub(super) fn of(kind: EventKind) -> Option<Self> {
        match kind {
            EventKind::DeliverPost => Some(Self::Deliveries),
            EventKind::AddFollow => Some(Self::Follows),
            EventKind::RetractPost | EventKind::RemoveFollow => None,
        }
    }
}
