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

struct Fixture {
    keys: DevKeys,
    graph: GraphServiceClient<Channel>,
    posts: PostServiceClient<Channel>,
    feed: FeedServiceClient<Channel>,
    fanout: FanoutServiceClient<Channel>,
    logs: LogServiceClient<Channel>,
    alice: i64,
    bob: i64,
    post_id: i64,
}

impl Fixture {
    /// A post of alice's, made by an admin for her (so each DeletePost has its own).
    async fn alice_post(&self, body: &str) -> i64 {
        let message = CreatePostRequest {
            author_id: self.alice,
            body: body.into(),
            idempotency_key: String::new(),
        };
        let response = self
            .posts
            .clone()
            .create_post(request(&self.keys, Cred::Admin, message))
            .await
            .unwrap();
        response.into_inner().post.unwrap().post_id
    }

    /// An app made by an admin (so each key RPC has its own): its id and its key's id.
    async fn admin_app(&self, n: usize) -> (i64, i64) {
        let message = CreateAppRequest {
            name: format!("keyed-{n}"),
        };
        let created = self
            .logs
            .clone()
            .create_app(request(&self.keys, Cred::Admin, message))
            .await
            .unwrap()
            .into_inner();
        (created.app.unwrap().app_id, created.key.unwrap().key_id)
    }

    /// Calls `rpc` with `cred`; the code and message it answered.
    async fn call(&self, rpc: &str, cred: Cred, n: usize) -> (Code, String) {
        let k = &self.keys;
        let (alice, bob, post_id) = (self.alice, self.bob, self.post_id);
        match rpc {
            "CreateUser" => code(
                self.graph
                    .clone()
                    .create_user(request(
                        k,
                        cred,
                        CreateUserRequest {
                            handle: format!("made_{n}"),
                            display_name: String::new(),
                            subject: String::new(),
                        },
                    ))
                    .await,
            ),
            "GetMe" => code(
                self.graph
                    .clone()
                    .get_me(request(k, cred, GetMeRequest {}))
                    .await,
            ),
            "GetUser" => code(
                self.graph
                    .clone()
                    .get_user(request(k, cred, GetUserRequest { user_id: alice }))
                    .await,
            ),
            "Follow" => code(
                self.graph
                    .clone()
                    .follow(request(
                        k,
                        cred,
                        FollowRequest {
                            follower_id: alice,
                            followee_id: bob,
                        },
                    ))
                    .await,
            ),
            "Unfollow" => code(
                self.graph
                    .clone()
                    .unfollow(request(
                        k,
                        cred,
                        UnfollowRequest {
                            follower_id: alice,
                            followee_id: bob,
                        },
                    ))
                    .await,
            ),
            "ListFollowers" => code(
                self.graph
                    .clone()
                    .list_followers(request(
                        k,
                        cred,
                        ListFollowersRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "ListFollowing" => code(
                self.graph
                    .clone()
                    .list_following(request(
                        k,
                        cred,
                        ListFollowingRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "CreatePost" => code(
                self.posts
                    .clone()
                    .create_post(request(
                        k,
                        cred,
                        CreatePostRequest {
                            author_id: alice,
                            body: format!("post {n}"),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await,
            ),
            "GetPost" => code(
                self.posts
                    .clone()
                    .get_post(request(k, cred, GetPostRequest { post_id }))
                    .await,
            ),
            "BatchGetPosts" => code(
                self.posts
                    .clone()
                    .batch_get_posts(request(
                        k,
                        cred,
                        BatchGetPostsRequest {
                            post_ids: vec![post_id],
                        },
                    ))
                    .await,
            ),
            "DeletePost" => {
                let doomed = self.alice_post(&format!("doomed {n}")).await;
                code(
                    self.posts
                        .clone()
                        .delete_post(request(
                            k,
                            cred,
                            DeletePostRequest {
                                post_id: doomed,
                                author_id: alice,
                            },
                        ))
                        .await,
                )
            }
            "ListAuthorPosts" => code(
                self.posts
                    .clone()
                    .list_author_posts(request(
                        k,
                        cred,
                        ListAuthorPostsRequest {
                            author_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "ListFolloweePosts" => code(
                self.posts
                    .clone()
                    .list_followee_posts(request(
                        k,
                        cred,
                        ListFolloweePostsRequest {
                            user_id: alice,
                            max_posts: Some(10),
                        },
                    ))
                    .await,
            ),
            "GetFeed" => code(
                self.feed
                    .clone()
                    .get_feed(request(
                        k,
                        cred,
                        GetFeedRequest {
                            user_id: alice,
                            ..Default::default()
                        },
                    ))
                    .await,
            ),
            "Fanout" => {
                // No event is sent: the stream opens (or is refused) and ends.
                let events = futures::stream::empty::<FanoutRequest>();
                code(self.fanout.clone().fanout(request(k, cred, events)).await)
            }
            "ListDeadLetters" => {
                let message = ListDeadLettersRequest::default();
                code(
                    self.posts
                        .clone()
                        .list_dead_letters(request(k, cred, message))
                        .await,
                )
            }
            "RequeueDeadLetters" => {
                // `all` with nothing dead: OK for the admin, and nothing moves.
                let message = RequeueDeadLettersRequest {
                    event_ids: Vec::new(),
                    all: true,
                };
                code(
                    self.posts
                        .clone()
                        .requeue_dead_letters(request(k, cred, message))
                        .await,
                )
            }
            "ReplayOutbox" => {
                let message = ReplayOutboxRequest { since_minutes: 1 };
                code(
                    self.fanout
                        .clone()
                        .replay_outbox(request(k, cred, message))
                        .await,
                )
            }
            "CreateApp" => code(
                self.logs
                    .clone()
                    .create_app(request(
                        k,
                        cred,
                        CreateAppRequest {
                            name: format!("app-{n}"),
                        },
                    ))
                    .await,
            ),
            "RotateAppKey" => {
                let (app_id, _) = self.admin_app(n).await;
                let message = RotateAppKeyRequest {
                    app_id,
                    app_name: String::new(),
                };
                code(
                    self.logs
                        .clone()
                        .rotate_app_key(request(k, cred, message))
                        .await,
                )
            }
            "RevokeAppKey" => {
                let (_, key_id) = self.admin_app(n).await;
                let message = RevokeAppKeyRequest { key_id };
                code(
                    self.logs
                        .clone()
                        .revoke_app_key(request(k, cred, message))
                        .await,
                )
            }
            "ListAppKeys" => {
                let (app_id, _) = self.admin_app(n).await;
                let message = ListAppKeysRequest {
                    app_id,
                    app_name: String::new(),
                };
                code(
                    self.logs
                        .clone()
                        .list_app_keys(request(k, cred, message))
                        .await,
                )
            }
            other => panic!("no such rpc {other}"),
        }
    }
}

/// What each RPC answers each credential.
fn expected(rpc: &str, cred: Cred) -> Code {
    match rpc {
        // A user binds its own subject once: alice's and bob's subjects have their users.
        "CreateUser" => unauthenticated_unless_valid(
            cred,
            match cred {
                Cred::Admin => Code::Ok,
                Cred::Service => Code::PermissionDenied,
                _ => Code::AlreadyExists,
            },
        ),
        // The admin's and the service's subjects have no user.
        "GetMe" => unauthenticated_unless_valid(
            cred,
            match cred {
                Cred::Own | Cred::Other => Code::Ok,
                _ => Code::NotFound,
            },
        ),
        "Follow" | "Unfollow" | "CreatePost" | "DeletePost" | "GetFeed" => as_alice(cred),
        "GetUser" | "ListFollowers" | "ListFollowing" | "GetPost" | "BatchGetPosts"
        | "ListAuthorPosts" => public(cred),
        "ListFolloweePosts" | "Fanout" => internal(cred),
        "CreateApp" | "RotateAppKey" | "RevokeAppKey" | "ListAppKeys" | "ReplayOutbox"
        | "ListDeadLetters" | "RequeueDeadLetters" => unauthenticated_unless_valid(
            cred,
            if cred == Cred::Admin {
                Code::Ok
            } else {
                Code::PermissionDenied
            },
        ),
        other => panic!("no such rpc {other}"),
    }
}

const RPCS: [&str; 22] = [
    "CreateUser",
    "GetMe",
    "GetUser",
    "Follow",
    "Unfollow",
    "ListFollowers",
    "ListFollowing",
    "CreatePost",
    "GetPost",
    "BatchGetPosts",
    "DeletePost",
    "ListAuthorPosts",
    "ListFolloweePosts",
    "GetFeed",
    "Fanout",
    "ReplayOutbox",
    "CreateApp",
    "RotateAppKey",
    "RevokeAppKey",
    "ListAppKeys",
    "ListDeadLetters",
    "RequeueDeadLetters",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_answers_each_credential_as_the_table_says() {
    let stack = Stack::builder().feed().logs().auth().start().await.unwrap();
    let keys = stack.keys.clone().unwrap();
    let graph = GraphServiceClient::new(stack.post_channel.clone());
    // alice and bob bind their own subjects with their own tokens.
    let mut ids = Vec::new();
    for (handle, subject) in [("alice", "alice"), ("bob", "bob")] {
        let message = CreateUserRequest {
            handle: handle.into(),
            display_name: String::new(),
            subject: String::new(),
        };
        let mut req = tonic::Request::new(message);
        let bearer = format!("Bearer {}", keys.user_token(subject));
        req.metadata_mut()
            .insert("authorization", bearer.parse().unwrap());
        let user = graph.clone().create_user(req).await.unwrap();
        ids.push(user.into_inner().user.unwrap().user_id);
    }
    let mut fixture = Fixture {
        keys: keys.clone(),
        graph,
        posts: PostServiceClient::new(stack.post_channel.clone()),
        feed: FeedServiceClient::new(stack.feed.as_ref().unwrap().channel().await.unwrap()),
        fanout: FanoutServiceClient::new(stack.fanout.channel().await.unwrap()),
        logs: LogServiceClient::new(stack.logs.as_ref().unwrap().channel().await.unwrap()),
        alice: ids[0],
        bob: ids[1],
        post_id: 0,
    };
    fixture.post_id = fixture.alice_post("hello").await;

    let mut wrong = Vec::new();
    let mut n = 0;
    for rpc in RPCS {
        for cred in CREDS {
            n += 1;
            let (got, message) = fixture.call(rpc, cred, n).await;
            let want = expected(rpc, cred);
            if got != want {
                wrong.push(format!(
                    "{rpc} with {cred:?}: {got:?} ({message}), want {want:?}"
                ));
            }
            if got == Code::Unauthenticated {
                // It says which check failed, and never echoes the token.
                assert!(!message.is_empty(), "{rpc} {cred:?}");
                if let Some(token) = token(&keys, cred) {
                    assert!(!message.contains(&token), "{rpc} {cred:?} echoed the token");
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} pairs wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    stack.stop().await.unwrap();
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
