//! A fan-out event encoded once. The writer encodes its kind into the outbox payload
//! ([`OutboxPayload`]); the relay appends the fields it fills in ([`Envelope`]) and sends the
//! bytes as they are ([`EncodedFanoutRequest`]); fanout-service decodes a plain `FanoutRequest`.
//!
//! This works because protobuf merges the fields of concatenated encodings of one message (of a
//! scalar field the later value wins), so `payload ++ envelope` decodes as the whole
//! `FanoutEvent`; and an embedded message and `bytes` are both length-delimited on the wire.

use prost::Message as _;

use super::fanout_event::Kind;
use super::{EventKind, FanoutEvent};

/// An event as the outbox stores it: its payload and the two columns beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxPayload {
    /// Its kind; the `kind` column holds [`EventKind::label`].
    pub kind: EventKind,
    /// Its ordering key ([`Kind::ordering_key`]), the `ordering_key` column.
    pub ordering_key: i64,
    /// The encoding of a `FanoutEvent` with only its kind set: the `payload` column, sent as
    /// it is.
    pub bytes: Vec<u8>,
}

impl OutboxPayload {
    /// Encodes an event of `kind`: the one encoding of its data on the fan-out path.
    pub fn encode(kind: Kind) -> Self {
        Self {
            kind: kind.event_kind(),
            ordering_key: kind.ordering_key(),
            bytes: FanoutEvent {
                kind: Some(kind),
                ..FanoutEvent::default()
            }
            .encode_to_vec(),
        }
    }

    /// Checks a stored payload (of this version or an older one) before it is sent: its
    /// ordering key (`None` when it names no kind: fanout-service rejects it), or why it does
    /// not decode. Such a payload must never go out: fanout-service could not read the request
    /// carrying it and would end the stream, and again at every resend.
    pub fn check(bytes: &[u8]) -> Result<Option<i64>, prost::DecodeError> {
        Ok(FanoutEvent::decode(bytes)?.ordering_key())
    }
}

/// What the relay fills in when it sends a stored payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The outbox row id (`FanoutEvent.event_id`).
    pub event_id: i64,
    /// The commit time, Unix ms (`FanoutEvent.commit_time`).
    pub commit_time_ms: i64,
    /// W3C trace context of the relay's send span (empty when untraced).
    pub traceparent: String,
    /// W3C tracestate accompanying it.
    pub tracestate: String,
    /// True when the event is re-sent in a replay.
    pub replay: bool,
}

impl Envelope {
    /// The event as it goes on the wire: `payload` (an [`OutboxPayload::bytes`]) with this
    /// envelope appended, in place. The payload is never decoded nor encoded again.
    pub fn seal(self, mut payload: Vec<u8>) -> Vec<u8> {
        let envelope = FanoutEvent {
            event_id: self.event_id,
            commit_time: Some(crate::millis_to_timestamp(self.commit_time_ms)),
            traceparent: self.traceparent,
            tracestate: self.tracestate,
            replay: self.replay,
            kind: None,
        };
        // Encoding into a Vec never runs out of room, the only error `encode` reports.
        let _ = envelope.encode(&mut payload);
        payload
    }
}

/// A `FanoutRequest` whose events are already encoded ([`Envelope::seal`]): on the wire, the
/// same bytes as the `FanoutRequest` of those events.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncodedFanoutRequest {
    /// 1 to 1000 sealed events, in outbox order.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub events: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::v1::{AddFollow, DeliverPost, FanoutRequest};
    use crate::post::v1::Post;

    fn delivery() -> Kind {
        Kind::DeliverPost(DeliverPost {
            post: Some(Post {
                post_id: 3,
                author_id: 7,
                body: "héllo".into(),
                ..Post::default()
            }),
        })
    }

    #[test]
    fn sealed_payloads_decode_as_the_whole_request() {
        let follow = Kind::AddFollow(AddFollow {
            follower_id: 1,
            followee_id: 2,
        });
        let stored = OutboxPayload::encode(delivery());
        assert_eq!(
            (stored.kind, stored.ordering_key),
            (EventKind::DeliverPost, 7)
        );
        let envelope = Envelope {
            event_id: 11,
            commit_time_ms: 1_763_700_000_123,
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            tracestate: "a=b".into(),
            replay: true,
        };
        let second = Envelope {
            event_id: 12,
            ..Envelope::default()
        };
        let encoded = EncodedFanoutRequest {
            events: vec![
                envelope.clone().seal(stored.bytes),
                second.seal(OutboxPayload::encode(follow.clone()).bytes),
            ],
        }
        .encode_to_vec();
        let expected = FanoutRequest {
            events: vec![
                FanoutEvent {
                    event_id: 11,
                    commit_time: Some(crate::millis_to_timestamp(1_763_700_000_123)),
                    traceparent: envelope.traceparent,
                    tracestate: envelope.tracestate,
                    replay: true,
                    kind: Some(delivery()),
                },
                FanoutEvent {
                    event_id: 12,
                    commit_time: Some(crate::millis_to_timestamp(0)),
                    kind: Some(follow),
                    ..FanoutEvent::default()
                },
            ],
        };
        assert_eq!(FanoutRequest::decode(encoded.as_slice()).unwrap(), expected);
    }

    #[test]
    fn a_payload_is_checked_before_it_goes_out() {
        let stored = OutboxPayload::encode(delivery());
        assert_eq!(OutboxPayload::check(&stored.bytes).unwrap(), Some(7));
        assert_eq!(OutboxPayload::check(&[]).unwrap(), None, "no kind");
        assert!(OutboxPayload::check(&[0xff, 0xff, 0xff]).is_err());
    }
}
