//! What fanout-service reads off a `Fanout` stream: any bytes decode to a `FanoutRequest` or
//! are refused; the pieces of each event checked before any Redis write (kind, ids, timeline
//! entry, commit time) are read without a panic, and a delivery the timelines accept stores an
//! entry the read side (feed-read's cursor) can page past.
#![no_main]

#[path = "common.rs"]
mod common;

use feedline_fuzz::feed::Cursor;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{FanoutEvent, FanoutRequest};
use feedline_proto::timestamp_to_millis;
use feedline_redis::keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(request) = common::decode::<FanoutRequest>(data) else {
        return;
    };
    for event in &request.events {
        check(event);
    }
});

fn check(event: &FanoutEvent) {
    if let Some(commit) = &event.commit_time {
        // What `lag::since` reads; `None` (malformed) records no lag.
        let _ = timestamp_to_millis(commit);
    }
    match &event.kind {
        Some(Kind::DeliverPost(delivery)) => {
            let Some(post) = &delivery.post else { return };
            if post.post_id <= 0 || post.author_id <= 0 {
                return;
            }
            // What `timelines/deliver.rs` validates a delivery into.
            let Some((score, member)) = keys::entry_of(post) else {
                return;
            };
            assert_eq!(keys::parse_member(&member), Some(post.post_id));
            // The read side takes the score back as whole milliseconds, and pages past the
            // entry with a cursor token it must accept (`entry_of` refuses times before 1970
            // and past 2^53 ms, which once broke both: found by this target).
            let Some(millis) = post.create_time.as_ref().and_then(timestamp_to_millis) else {
                panic!("entry_of scored a post without a valid create_time");
            };
            assert_eq!(score, millis as f64);
            assert_eq!(score as i64, millis);
            let cursor = Cursor {
                millis,
                post_id: post.post_id,
            };
            let user = post.author_id;
            assert_eq!(Cursor::decode(&cursor.encode(user), user), Ok(Some(cursor)));
        }
        Some(Kind::RetractPost(retract)) => {
            if retract.post_id > 0 {
                assert_eq!(
                    keys::parse_member(&keys::member(retract.post_id)),
                    Some(retract.post_id)
                );
            }
        }
        Some(Kind::AddFollow(_) | Kind::RemoveFollow(_)) | None => {}
    }
}
