//! feed-read-service's GetFeed validation (`api/validate.rs`) and its page cursor: any request
//! is valid or INVALID_ARGUMENT, never a panic; a valid one has a positive user, a page size in
//! range and a cursor that re-encodes to the token it came from.
#![no_main]

#[path = "common.rs"]
mod common;

use feedline_fuzz::error::FeedError;
use feedline_fuzz::feed::Cursor;
use feedline_proto::feed::v1::GetFeedRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(request) = common::decode::<GetFeedRequest>(data) else {
        return;
    };
    match feedline_fuzz::get_feed(&request) {
        Ok((user_id, page_size, after)) => {
            assert_eq!(user_id, request.user_id);
            assert!(user_id > 0);
            assert!((1..=100).contains(&page_size));
            match after {
                None => assert!(request.page_token.is_empty()),
                Some(cursor) => {
                    assert!(cursor.millis >= 0 && cursor.post_id > 0);
                    assert_eq!(cursor.encode(user_id), request.page_token);
                }
            }
        }
        Err(FeedError::InvalidArgument(violations)) => assert!(!violations.is_empty()),
    }
    // The cursor alone, for any user.
    if let Ok(Some(cursor)) = Cursor::decode(&request.page_token, request.user_id) {
        assert_eq!(cursor.encode(request.user_id), request.page_token);
    }
});
