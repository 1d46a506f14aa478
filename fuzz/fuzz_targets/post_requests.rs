//! post-service's request validators, fed every request message prost decodes from the input,
//! field by field as the handlers in `api/` check them.
#![no_main]

#[path = "common.rs"]
mod common;

use feedline_fuzz::post_page_token::{self as page_token, List};
use feedline_fuzz::post_validate as validate;
use feedline_proto::graph::v1::{
    CreateUserRequest, FollowRequest, GetUserRequest, ListFollowersRequest, ListFollowingRequest,
    UnfollowRequest,
};
use feedline_proto::post::v1::{
    BatchGetPostsRequest, CreatePostRequest, DeletePostRequest, GetPostRequest,
    ListAuthorPostsRequest, ListFolloweePostsRequest,
};
use libfuzzer_sys::fuzz_target;

/// The graph listings' default and largest page (`api/graph.rs`).
const GRAPH_PAGE: (u64, u64) = (100, 1000);
/// The author listing's default and largest page (`api/posts.rs`).
const POSTS_PAGE: (u64, u64) = (20, 100);

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = common::pick(data) else {
        return;
    };
    match which % 12 {
        0 => {
            if let Some(r) = common::decode::<CreatePostRequest>(bytes) {
                id(r.author_id);
                body(&r.body);
                idempotency_key(&r.idempotency_key);
            }
        }
        1 => {
            if let Some(r) = common::decode::<GetPostRequest>(bytes) {
                id(r.post_id);
            }
        }
        2 => {
            if let Some(r) = common::decode::<BatchGetPostsRequest>(bytes) {
                for post_id in r.post_ids {
                    id(post_id);
                }
            }
        }
        3 => {
            if let Some(r) = common::decode::<DeletePostRequest>(bytes) {
                id(r.post_id);
                id(r.author_id);
            }
        }
        4 => {
            if let Some(r) = common::decode::<ListAuthorPostsRequest>(bytes) {
                let author = id(r.author_id);
                page_size(r.page_size, POSTS_PAGE);
                token(&r.page_token, List::AuthorPosts, author);
            }
        }
        5 => {
            if let Some(r) = common::decode::<ListFolloweePostsRequest>(bytes) {
                id(r.user_id);
                let limits = (
                    validate::DEFAULT_FOLLOWEE_POSTS,
                    validate::MAX_FOLLOWEE_POSTS,
                );
                page_size(r.max_posts, limits);
            }
        }
        6 => {
            if let Some(r) = common::decode::<CreateUserRequest>(bytes) {
                handle(&r.handle);
                display_name(&r.display_name);
                subject(&r.subject);
            }
        }
        7 => {
            if let Some(r) = common::decode::<GetUserRequest>(bytes) {
                id(r.user_id);
            }
        }
        8 => {
            if let Some(r) = common::decode::<FollowRequest>(bytes) {
                id(r.follower_id);
                id(r.followee_id);
            }
        }
        9 => {
            if let Some(r) = common::decode::<UnfollowRequest>(bytes) {
                id(r.follower_id);
                id(r.followee_id);
            }
        }
        10 => {
            if let Some(r) = common::decode::<ListFollowersRequest>(bytes) {
                let user = id(r.user_id);
                page_size(r.page_size, GRAPH_PAGE);
                token(&r.page_token, List::Followers, user);
            }
        }
        _ => {
            if let Some(r) = common::decode::<ListFollowingRequest>(bytes) {
                let user = id(r.user_id);
                page_size(r.page_size, GRAPH_PAGE);
                token(&r.page_token, List::Following, user);
            }
        }
    }
});

/// A valid id is the positive value itself; the handlers go on with 0 after an error.
fn id(value: i64) -> i64 {
    match validate::id(value) {
        Ok(id) => {
            assert!(id > 0 && id == value);
            id
        }
        Err(_) => {
            assert!(value <= 0);
            0
        }
    }
}

fn body(value: &str) {
    if let Ok(body) = validate::body(value) {
        assert_eq!(body, value);
        let chars = body.chars().count();
        assert!((1..=validate::MAX_BODY_CHARS).contains(&chars));
        assert!(!body.contains('\0'), "PostgreSQL cannot store NUL");
        assert!(!body.trim().is_empty());
    }
}

fn idempotency_key(value: &str) {
    match validate::idempotency_key(value) {
        Ok(None) => assert!(value.is_empty()),
        Ok(Some(key)) => {
            assert_eq!(key, value);
            assert!(key.len() <= validate::MAX_IDEMPOTENCY_KEY_LEN);
            assert!(key.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        }
        Err(_) => {}
    }
}

fn handle(value: &str) {
    if let Ok(handle) = validate::handle(value) {
        assert!((3..=30).contains(&handle.len()));
        assert!(handle.eq_ignore_ascii_case(value));
        // Folding is idempotent: a stored handle validates as itself.
        assert_eq!(validate::handle(&handle).as_deref(), Ok(handle.as_str()));
    }
}

fn display_name(value: &str) {
    if let Ok(name) = validate::display_name(value) {
        assert_eq!(name, value);
        assert!(name.chars().count() <= validate::MAX_DISPLAY_NAME_CHARS);
        assert!(!name.contains('\0'));
    }
}

fn subject(value: &str) {
    match validate::subject(value) {
        Ok(None) => assert!(value.is_empty()),
        Ok(Some(subject)) => {
            assert_eq!(subject, value);
            assert!(!subject.contains('\0'));
        }
        Err(_) => {}
    }
}

fn page_size(value: Option<i32>, (default, max): (u64, u64)) {
    if let Ok(size) = validate::page_size(value, default, max) {
        assert!((1..=max).contains(&size));
        assert!(value.is_none_or(|n| u64::try_from(n) == Ok(size)));
    }
}

/// A token that decodes is the one the service would issue for that key.
fn token(value: &str, list: List, subject: i64) {
    match page_token::decode(value, list, subject) {
        Ok(None) => assert!(value.is_empty()),
        Ok(Some(after)) => assert_eq!(page_token::encode(list, subject, after), value),
        Err(_) => {}
    }
}
