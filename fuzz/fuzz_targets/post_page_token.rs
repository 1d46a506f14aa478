//! Page tokens: post-service's listings and the kit's encoding under them (which feed-read's
//! cursor and log-ingest's query token use too). Any text decodes to a key, "first page" or an
//! error; a token that decodes is exactly the one encoding that key gives; an issued token
//! decodes to its key, and only for its own listing and subject.
#![no_main]

use feedline_fuzz::post_page_token::{self as page_token, List};
use feedline_service_kit::page_token as kit;
use libfuzzer_sys::fuzz_target;

const LISTS: [List; 3] = [List::Followers, List::Following, List::AuthorPosts];

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (head, rest) = data.split_at(17);
    let list = LISTS[usize::from(head[0]) % LISTS.len()];
    let other = LISTS[(usize::from(head[0]) + 1) % LISTS.len()];
    let subject = i64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
    let after = i64::from_le_bytes(head[9..17].try_into().expect("8 bytes"));

    // Issued tokens decode to their key, for their listing and subject only.
    let issued = page_token::encode(list, subject, after);
    assert_eq!(page_token::decode(&issued, list, subject), Ok(Some(after)));
    assert!(page_token::decode(&issued, other, subject).is_err());

    // Whatever a client sends.
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match page_token::decode(text, list, subject) {
        Ok(None) => assert!(text.is_empty()),
        Ok(Some(key)) => assert_eq!(page_token::encode(list, subject, key), text),
        Err(_) => {}
    }
    // The kit's decoding of any scope and key count.
    let scope = &head[..1 + usize::from(head[0] % 9)];
    match kit::decode::<2>(text, scope) {
        Ok(None) => assert!(text.is_empty()),
        Ok(Some(keys)) => assert_eq!(kit::encode(scope, &keys), text),
        Err(_) => {}
    }
    if let Ok(Some(keys)) = kit::decode::<1>(text, scope) {
        assert_eq!(kit::encode(scope, &keys), text);
    }
});
