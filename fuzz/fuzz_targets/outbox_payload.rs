//! Outbox payloads as the relay reads them back (`relay/events.rs`): any stored bytes either
//! decode to a `FanoutEvent` or are refused (the row is parked), never a panic; an event the
//! relay stamps and sends arrives at fanout-service as the same event.
#![no_main]

#[path = "common.rs"]
mod common;

use feedline_proto::fanout::v1::{FanoutEvent, FanoutRequest};
use feedline_proto::{millis_to_timestamp, timestamp_to_millis};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (head, payload) = data.split_at(16);
    let row_id = i64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let created_at_ms = i64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    // What `relay::events::decode` does with a stored payload.
    let Some(mut event) = common::decode::<FanoutEvent>(payload) else {
        return;
    };
    // What `event_from_row` / `replay_from_row` stamp on it.
    event.event_id = row_id;
    event.commit_time = Some(millis_to_timestamp(created_at_ms));
    let commit = event.commit_time.as_ref().expect("just set");
    // Found by this target (fixed): in the last second before i64::MIN ms,
    // `timestamp_to_millis` overflowed on `seconds * 1000`.
    assert_eq!(timestamp_to_millis(commit), Some(created_at_ms));
    // Sent in a batch, read by fanout-service.
    let request = FanoutRequest {
        events: vec![event.clone()],
    };
    let received = FanoutRequest::decode(request.encode_to_vec().as_slice())
        .expect("a request the relay encodes decodes");
    assert_eq!(received.events, [event]);
});
