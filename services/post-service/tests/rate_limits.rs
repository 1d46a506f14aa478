//! Per-user rate limits over real gRPC, with tokens, counted in a real Redis Cluster: past a
//! limit a write is RESOURCE_EXHAUSTED with RetryInfo and writes nothing; other users, admins
//! and a limit of 0 are not limited; two replicas share one count; the count starts again when
//! the window ends; a Redis outage fails open.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use feedline_proto::graph::v1::*;
use feedline_proto::post::v1::*;
use feedline_service_kit::auth::DevKeys;
use feedline_test_harness::{Backend, RedisCluster, TestDatabase, eventually, retry_delay};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

/// How long the limiter may take to reach the cluster after the server is SERVING.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// A cluster and the key the servers trust; each server gets the variables of both.
struct Setup {
    cluster: RedisCluster,
    keys: DevKeys,
}

impl Setup {
    async fn new() -> Self {
        Self {
            cluster: RedisCluster::start(3, 0).await.expect("redis cluster"),
            keys: DevKeys::generate("https://feedline.test", "feedline"),
        }
    }

    /// A post-service that verifies tokens and counts in the cluster, `posts` and `follows`
    /// per 60 s window, with `extra` variables (a shorter window; a database URL to share
    /// one), once its limiter has reached the cluster.
    async fn server(&self, posts: &str, follows: &str, extra: &[(&str, &str)]) -> TestServer {
        let jwks = self.keys.jwks_json();
        let url = self.cluster.url();
        let mut env = vec![
            ("FEEDLINE_AUTH_JWKS", jwks.as_str()),
            ("FEEDLINE_REDIS_URL", url.as_str()),
            ("FEEDLINE_RATE_LIMIT_POSTS", posts),
            ("FEEDLINE_RATE_LIMIT_FOLLOWS", follows),
            ("FEEDLINE_RATE_LIMIT_WINDOW_SECS", "60"),
        ];
        env.extend_from_slice(extra);
        let server = TestServer::start_with(Backend::Sqlite, &env)
            .await
            .expect("sqlite is always enabled");
        self.until_counting(&server).await;
        server
    }

    /// Follows one user again and again, as `warmup`, until a follow is refused: the limiter
    /// admits writes uncounted until it has reached the cluster (it fails open), and is
    /// counting from then on. Every server of these tests limits follows.
    async fn until_counting(&self, s: &TestServer) {
        let (follower, token) = self.user_on(s, "warmup").await;
        let (followee, _) = self.user_on(s, "warmup_target").await;
        let what = "the limiter reaching the cluster (a follow refused)";
        eventually(what, CONNECT_DEADLINE, || async {
            match follow(s, &token, follower, followee).await {
                Ok(_) => anyhow::bail!("admitted"),
                Err(status) if status.code() == Code::ResourceExhausted => Ok(()),
                Err(status) => panic!("warm-up follow: {status:?}"),
            }
        })
        .await
        .unwrap();
    }

    /// The user bound to `handle`'s subject on `s`'s database (created by the first call),
    /// and a token of that subject.
    async fn user_on(&self, s: &TestServer, handle: &str) -> (i64, String) {
        let token = self.keys.user_token(handle);
        let request = CreateUserRequest {
            handle: handle.into(),
            display_name: handle.into(),
            subject: String::new(),
        };
        let user_id = match s.graph.clone().create_user(authed(&token, request)).await {
            Ok(created) => created.into_inner().user.expect("user").user_id,
            Err(status) if status.code() == Code::AlreadyExists => {
                let mut graph = s.graph.clone();
                graph
                    .get_me(authed(&token, GetMeRequest {}))
                    .await
                    .expect("get me")
                    .into_inner()
                    .user
                    .expect("user")
                    .user_id
            }
            Err(status) => panic!("create user {handle}: {status:?}"),
        };
        (user_id, token)
    }
}

/// `message` carrying `token`.
fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().expect("metadata value");
    request.metadata_mut().insert("authorization", value);
    request
}

async fn post(s: &TestServer, token: &str, author_id: i64) -> Result<Post, Status> {
    let request = CreatePostRequest {
        author_id,
        body: "hello".into(),
        idempotency_key: String::new(),
    };
    let response = s.posts.clone().create_post(authed(token, request)).await?;
    Ok(response.into_inner().post.expect("post"))
}

async fn follow(
    s: &TestServer,
    token: &str,
    follower_id: i64,
    followee_id: i64,
) -> Result<bool, Status> {
    let request = FollowRequest {
        follower_id,
        followee_id,
    };
    let response = s.graph.clone().follow(authed(token, request)).await?;
    Ok(response.into_inner().created)
}

/// The posts `author_id` has, read with `token`.
async fn posts_of(s: &TestServer, token: &str, author_id: i64) -> usize {
    let request = ListAuthorPostsRequest {
        author_id,
        page_size: Some(100),
        page_token: String::new(),
    };
    let mut posts = s.posts.clone();
    let page = posts.list_author_posts(authed(token, request)).await;
    page.expect("list posts").into_inner().posts.len()
}

/// The users `user_id` follows, read with `token`.
async fn following(s: &TestServer, token: &str, user_id: i64) -> Vec<i64> {
    let request = ListFollowingRequest {
        user_id,
        page_size: None,
        page_token: String::new(),
    };
    let mut graph = s.graph.clone();
    let page = graph.list_following(authed(token, request)).await;
    page.expect("list following").into_inner().followee_ids
}

/// Asserts `status` is the refusal of a rate limit of `per` (e.g. "3 posts per 60 s") and
/// returns its RetryInfo delay.
fn assert_rate_limited(result: Result<impl std::fmt::Debug, Status>, per: &str) -> Duration {
    let status = result.expect_err("refused past the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains(per), "{}", status.message());
    let quota = status.get_details_quota_failure().expect("QuotaFailure");
    assert_eq!(quota.violations[0].description, per);
    retry_delay(&status).expect("RetryInfo")
}

#[tokio::test]
async fn past_the_limit_a_user_is_refused_until_the_window_ends_and_nothing_is_written() {
    let setup = Setup::new().await;
    let s = setup.server("3", "2", &[]).await;
    let (alice, alice_token) = setup.user_on(&s, "alice").await;
    let (bob, bob_token) = setup.user_on(&s, "bob").await;
    let (carol, _) = setup.user_on(&s, "carol").await;

    for _ in 0..3 {
        post(&s, &alice_token, alice)
            .await
            .expect("within the limit");
    }
    let wait = assert_rate_limited(post(&s, &alice_token, alice).await, "3 posts per 60 s");
    assert!(
        Duration::ZERO < wait && wait <= Duration::from_secs(60),
        "the rest of the window: {wait:?}"
    );
    assert_eq!(
        posts_of(&s, &bob_token, alice).await,
        3,
        "the refused post was not written"
    );

    // Another user is not affected, and neither are alice's follows: a quota of their own.
    post(&s, &bob_token, bob).await.expect("bob's own count");
    follow(&s, &alice_token, alice, bob)
        .await
        .expect("follow 1");
    follow(&s, &alice_token, alice, carol)
        .await
        .expect("follow 2");
    let (third, _) = setup.user_on(&s, "dave").await;
    let wait = assert_rate_limited(
        follow(&s, &alice_token, alice, third).await,
        "2 follows per 60 s",
    );
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
    assert_eq!(following(&s, &bob_token, alice).await, vec![bob, carol]);

    // An admin acting for alice is not limited.
    let admin = setup.keys.admin_token("root");
    post(&s, &admin, alice).await.expect("admin is not limited");
    follow(&s, &admin, alice, third)
        .await
        .expect("admin is not limited");
    assert_eq!(posts_of(&s, &bob_token, alice).await, 4);
    s.stop().await;
}

#[tokio::test]
async fn replicas_share_one_count() {
    let setup = Setup::new().await;
    // Two replicas of one deployment: one database, one cluster, distinct node ids.
    let database = TestDatabase::sqlite().await.expect("sqlite");
    let replica = |node| {
        [
            ("FEEDLINE_DATABASE_URL", database.url()),
            ("FEEDLINE_NODE_ID", node),
        ]
    };
    let a = setup.server("3", "2", &replica("1")).await;
    let b = setup.server("3", "2", &replica("2")).await;
    let (alice, token) = setup.user_on(&a, "alice").await;

    post(&a, &token, alice).await.expect("1st, on a");
    post(&b, &token, alice).await.expect("2nd, on b");
    post(&a, &token, alice).await.expect("3rd, on a");
    assert_rate_limited(post(&b, &token, alice).await, "3 posts per 60 s");
    assert_rate_limited(post(&a, &token, alice).await, "3 posts per 60 s");
    assert_eq!(posts_of(&b, &token, alice).await, 3);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_limit_of_zero_is_off() {
    let setup = Setup::new().await;
    let s = setup.server("0", "2", &[]).await;
    // The limiter counts (the warm-up's follows were refused), but not posts.
    let (alice, token) = setup.user_on(&s, "alice").await;
    for _ in 0..10 {
        post(&s, &token, alice)
            .await
            .expect("posts are not limited");
    }
    assert_eq!(posts_of(&s, &token, alice).await, 10);
    s.stop().await;
}

#[tokio::test]
async fn the_count_starts_again_when_the_window_ends() {
    let setup = Setup::new().await;
    let s = setup
        .server("1", "1", &[("FEEDLINE_RATE_LIMIT_WINDOW_SECS", "1")])
        .await;
    let (alice, token) = setup.user_on(&s, "alice").await;
    post(&s, &token, alice)
        .await
        .expect("the window's one post");
    let wait = assert_rate_limited(post(&s, &token, alice).await, "1 posts per 1 s");
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    // Waiting out the window is the behaviour under test, not a readiness guess.
    tokio::time::sleep(wait).await;
    post(&s, &token, alice)
        .await
        .expect("a new window after the RetryInfo delay");
    s.stop().await;
}

#[tokio::test]
async fn a_redis_outage_fails_open() {
    let mut setup = Setup::new().await;
    let s = setup.server("1", "1", &[]).await;
    let (alice, token) = setup.user_on(&s, "alice").await;
    post(&s, &token, alice).await.expect("within the limit");
    assert_rate_limited(post(&s, &token, alice).await, "1 posts per 60 s");

    setup.cluster.stop();
    for _ in 0..3 {
        let started = Instant::now();
        post(&s, &token, alice)
            .await
            .expect("admitted uncounted while redis is down");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a write waits for redis at most briefly: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(posts_of(&s, &token, alice).await, 4);
    s.stop().await;
}
