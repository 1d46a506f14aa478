//! Conversions from database rows to protobuf messages.

use feedline_proto::graph::v1 as graph;
use feedline_proto::millis_to_timestamp;
use feedline_proto::post::v1 as post;

use crate::entity;

/// A user row as the API shows it.
pub fn user_to_proto(u: &entity::user::Model) -> graph::User {
    graph::User {
        user_id: u.id,
        handle: u.handle.clone(),
        display_name: u.display_name.clone(),
        create_time: Some(millis_to_timestamp(u.created_at_ms)),
        follower_count: u.follower_count,
        following_count: u.following_count,
    }
}

/// A post row as the API (and the outbox payload) shows it.
pub fn post_to_proto(p: &entity::post::Model) -> post::Post {
    post::Post {
        post_id: p.id,
        author_id: p.author_id,
        body: p.body.clone(),
        create_time: Some(millis_to_timestamp(p.created_at_ms)),
    }
}
