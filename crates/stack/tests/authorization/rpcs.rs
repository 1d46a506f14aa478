//! Every RPC of the stack, the answer each credential must get from it, and the test that calls
//! each RPC with each credential.

use super::*;

/// What each RPC answers each credential.
pub(super) fn expected(rpc: &str, cred: Cred) -> Code {
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

pub(super) const RPCS: [&str; 22] = [
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
