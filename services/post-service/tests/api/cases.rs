//! The cases of the suite, one module per part of the API; the helpers they share are here.

use std::collections::HashSet;

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::graph::v1::*;
use feedline_proto::post::v1::*;
use feedline_proto::prost::Message as _;
use post_service::entity::outbox;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use tonic::Code;

use crate::common::{TestServer, assert_violation};

async fn user(s: &TestServer, handle: &str) -> User {
    s.graph
        .clone()
        .create_user(CreateUserRequest {
            handle: handle.into(),
            display_name: format!("{handle} display"),
            subject: String::new(),
        })
        .await
        .expect("create user")
        .into_inner()
        .user
        .expect("user")
}

async fn post(s: &TestServer, author: i64, body: &str, key: &str) -> CreatePostResponse {
    s.posts
        .clone()
        .create_post(CreatePostRequest {
            author_id: author,
            body: body.into(),
            idempotency_key: key.into(),
        })
        .await
        .expect("create post")
        .into_inner()
}

async fn follow(s: &TestServer, follower: i64, followee: i64) -> bool {
    s.graph
        .clone()
        .follow(FollowRequest {
            follower_id: follower,
            followee_id: followee,
        })
        .await
        .expect("follow")
        .into_inner()
        .created
}

async fn outbox_events(s: &TestServer) -> Vec<(String, Kind)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(&s.db)
        .await
        .expect("read outbox")
        .into_iter()
        .map(|row| {
            let event = FanoutEvent::decode(row.payload.as_slice()).expect("payload decodes");
            (row.kind, event.kind.expect("kind set"))
        })
        .collect()
}

mod concurrency;
mod follows;
mod home_timeline;
mod posts;
mod users;

pub use concurrency::*;
pub use follows::*;
pub use home_timeline::*;
pub use posts::*;
pub use users::*;
