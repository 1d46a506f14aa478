//! Who may call what, over real gRPC: every RPC of every service against seven credentials,
//! each pair with the code the README's table promises.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::Duration;

use feedline_proto::fanout::v1::fanout_service_client::FanoutServiceClient;
use feedline_proto::fanout::v1::{FanoutRequest, ReplayOutboxRequest};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::*;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{
    CreateAppRequest, ListAppKeysRequest, RevokeAppKeyRequest, RotateAppKeyRequest,
};
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_proto::post::v1::*;
use feedline_service_kit::auth::{DevKeys, TokenSpec};
use feedline_stack::Stack;
use tonic::Code;
use tonic::transport::Channel;

/// The credentials every RPC is tried with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cred {
    None,
    Expired,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    /// bob, acting on alice's things.
    Other,
    /// alice herself.
    Own,
    Admin,
    Service,
}

const CREDS: [Cred; 9] = [
    Cred::None,
    Cred::Expired,
    Cred::BadSignature,
    Cred::WrongIssuer,
    Cred::WrongAudience,
    Cred::Other,
    Cred::Own,
    Cred::Admin,
    Cred::Service,
];

fn token(keys: &DevKeys, cred: Cred) -> Option<String> {
    let spec = |f: &dyn Fn(&mut TokenSpec)| {
        let mut s = TokenSpec::new("alice", "");
        f(&mut s);
        keys.token(&s)
    };
    Some(match cred {
        Cred::None => return None,
        Cred::Expired => spec(&|s| s.expired_for = Some(Duration::from_secs(120))),
        Cred::BadSignature => {
            let good = keys.user_token("alice");
            let (rest, signature) = good.rsplit_once('.').unwrap();
            let mut signature = signature.as_bytes().to_vec();
            signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
            format!("{rest}.{}", String::from_utf8(signature).unwrap())
        }
        Cred::WrongIssuer => spec(&|s| s.issuer = Some("https://evil.example".into())),
        Cred::WrongAudience => spec(&|s| s.audience = Some("another-app".into())),
        Cred::Other => keys.user_token("bob"),
        Cred::Own => keys.user_token("alice"),
        Cred::Admin => keys.admin_token("root"),
        Cred::Service => keys.service_token("some-service"),
    })
}

fn request<T>(keys: &DevKeys, cred: Cred, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token(keys, cred) {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// Any invalid credential is UNAUTHENTICATED, whatever the call.
fn unauthenticated_unless_valid(cred: Cred, valid: Code) -> Code {
    match cred {
        Cred::None
        | Cred::Expired
        | Cred::BadSignature
        | Cred::WrongIssuer
        | Cred::WrongAudience => Code::Unauthenticated,
        _ => valid,
    }
}

/// Acting as alice: she and an admin may; bob and a service may not.
fn as_alice(cred: Cred) -> Code {
    unauthenticated_unless_valid(
        cred,
        match cred {
            Cred::Own | Cred::Admin => Code::Ok,
            _ => Code::PermissionDenied,
        },
    )
}

/// A public read: any valid token.
fn public(cred: Cred) -> Code {
    unauthenticated_unless_valid(cred, Code::Ok)
}

/// Internal to the services.
fn internal(cred: Cred) -> Code {
    unauthenticated_unless_valid(
        cred,
        if cred == Cred::Service {
            Code::Ok
        } else {
            Code::PermissionDenied
        },
    )
}

fn code<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_subject_binds_its_user_and_acts_only_as_it() {
    let stack = Stack::builder().auth().start().await.unwrap();
    let keys = stack.keys.clone().unwrap();
    let with = |token: String| {
        move |mut req: tonic::Request<()>| {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            Ok(req)
        }
    };
    let carol = GraphServiceClient::with_interceptor(
        stack.post_channel.clone(),
        with(keys.user_token("carol")),
    );
    let before = code(carol.clone().get_me(GetMeRequest {}).await);
    assert_eq!(before.0, Code::NotFound, "{}", before.1);
    assert!(
        before.1.contains("CreateUser"),
        "says how to bind: {}",
        before.1
    );

    // Binding another subject needs the admin scope.
    let other = CreateUserRequest {
        handle: "carol".into(),
        display_name: String::new(),
        subject: "dave".into(),
    };
    assert_eq!(
        code(carol.clone().create_user(other).await).0,
        Code::PermissionDenied
    );
    let own = CreateUserRequest {
        handle: "carol".into(),
        display_name: String::new(),
        subject: String::new(),
    };
    let created = carol.clone().create_user(own).await.unwrap().into_inner();
    let me = carol
        .clone()
        .get_me(GetMeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user, created.user);

    // An admin binds dave's user for him; dave then acts as it, and not as carol.
    let admin = GraphServiceClient::with_interceptor(
        stack.post_channel.clone(),
        with(keys.admin_token("root")),
    );
    let for_dave = CreateUserRequest {
        handle: "dave".into(),
        display_name: String::new(),
        subject: "dave".into(),
    };
    let dave_id = admin
        .clone()
        .create_user(for_dave)
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
        .user_id;
    let dave = PostServiceClient::with_interceptor(
        stack.post_channel.clone(),
        with(keys.user_token("dave")),
    );
    let post = |author_id| CreatePostRequest {
        author_id,
        body: "hi".into(),
        idempotency_key: String::new(),
    };
    assert!(dave.clone().create_post(post(dave_id)).await.is_ok());
    let as_carol = code(
        dave.clone()
            .create_post(post(created.user.unwrap().user_id))
            .await,
    );
    assert_eq!(as_carol.0, Code::PermissionDenied, "{}", as_carol.1);
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_checked_before_a_large_body_is_read() {
    let stack = Stack::builder().auth().start().await.unwrap();
    // 5 MiB: past the 4 MiB a server decodes. Read first, it would be refused as too large
    // (RESOURCE_EXHAUSTED or OUT_OF_RANGE); checked first, it is UNAUTHENTICATED.
    let body = "x".repeat(5 << 20);
    let mut posts =
        PostServiceClient::new(stack.post_channel.clone()).max_encoding_message_size(usize::MAX);
    let answer = code(
        posts
            .create_post(CreatePostRequest {
                author_id: 1,
                body,
                idempotency_key: String::new(),
            })
            .await,
    );
    assert_eq!(answer.0, Code::Unauthenticated, "{}", answer.1);
    stack.stop().await.unwrap();
}

mod fixture;
mod rpcs;

use fixture::Fixture;
