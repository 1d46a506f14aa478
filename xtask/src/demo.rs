//! `cargo xtask demo`: seeds a small world into the running stack of `cargo xtask up` (four
//! users, their follows, a few posts, one log app with records) over gRPC, then prints
//! ready-to-run grpcurl calls with the real ids, tokens and app key. Safe to run again: it
//! finds what an earlier run made (users by their token, posts by idempotency key) and gives
//! the log app a fresh key.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::graph::v1::{CreateUserRequest, FollowRequest, GetMeRequest};
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{IngestRequest, LogRecord, RotateAppKeyRequest, Severity};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_test_harness::eventually;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::logs_app::{self, CreatedApp};

/// post-service (users, follows, posts), feed-read-service and log-ingest-service as `up`
/// runs them.
const POST_ADDR: &str = "http://127.0.0.1:50051";
const FEED_ADDR: &str = "http://127.0.0.1:50053";
const LOGS_ADDR: &str = logs_app::DEFAULT_ADDR;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long fan-out may take to bring the demo's posts into every follower's timeline.
const FANOUT_DEADLINE: Duration = Duration::from_secs(15);

/// The demo's people: handle (also the token subject) and display name.
const PEOPLE: [(&str, &str); 4] = [
    ("ada", "Ada Lovelace"),
    ("grace", "Grace Hopper"),
    ("alan", "Alan Turing"),
    ("edsger", "Edsger Dijkstra"),
];
/// Who follows whom, by index into [`PEOPLE`]: ada and grace are followed, alan reads both.
const FOLLOWS: [(usize, usize); 5] = [(1, 0), (2, 0), (3, 0), (0, 1), (2, 1)];
/// Posts by author index; the idempotency key is `demo-<handle>-<n>`, so a second run adds none.
const POSTS: [(usize, &str); 4] = [
    (0, "The Analytical Engine weaves algebraic patterns."),
    (
        1,
        "It's easier to ask forgiveness than it is to get permission.",
    ),
    (
        0,
        "That brain of mine is something more than merely mortal.",
    ),
    (
        1,
        "A ship in port is safe, but that's not what ships are built for.",
    ),
];
/// The log app the demo registers (`up` registers "demo" itself).
const APP_NAME: &str = "demo-world";

/// A demo user: the token that acts as them and the id post-service gave them.
struct Person {
    handle: &'static str,
    token: String,
    user_id: i64,
}

/// Seeds the world and prints the calls to try.
pub async fn run() -> Result<ExitCode> {
    let keys = crate::auth::keys()?;
    let post = connect("post-service", POST_ADDR).await?;
    let mut graph = GraphServiceClient::new(post.clone());
    let mut people = Vec::new();
    for (handle, name) in PEOPLE {
        let token = keys.user_token(handle);
        let user_id = ensure_user(&mut graph, &token, handle, name).await?;
        people.push(Person {
            handle,
            token,
            user_id,
        });
    }
    for (follower, followee) in FOLLOWS {
        let (who, whom) = (&people[follower], &people[followee]);
        let body = FollowRequest {
            follower_id: who.user_id,
            followee_id: whom.user_id,
        };
        graph
            .follow(authed(body, &who.token)?)
            .await
            .map_err(|status| {
                call_failed(
                    &format!("Follow {} -> {}", who.handle, whom.handle),
                    &status,
                )
            })?;
    }
    let mut posts = PostServiceClient::new(post);
    let mut post_ids = Vec::new();
    for (n, (author, body)) in POSTS.iter().enumerate() {
        let author = &people[*author];
        let request = CreatePostRequest {
            author_id: author.user_id,
            body: (*body).to_owned(),
            idempotency_key: format!("demo-{}-{}", author.handle, n + 1),
        };
        let created = posts
            .create_post(authed(request, &author.token)?)
            .await
            .map_err(|status| call_failed(&format!("CreatePost by {}", author.handle), &status))?
            .into_inner();
        post_ids.push(created.post.map_or(0, |post| post.post_id));
    }
    let reader = &people[2];
    wait_for_feed(reader, POSTS.len()).await?;
    let app = ensure_app().await?;
    ingest_records(&app).await?;
    print(&people, &post_ids, &app);
    Ok(ExitCode::SUCCESS)
}

/// CreateUser as the token's subject; when an earlier run made the user, GetMe finds it.
async fn ensure_user(
    graph: &mut GraphServiceClient<Channel>,
    token: &str,
    handle: &str,
    name: &str,
) -> Result<i64> {
    let request = CreateUserRequest {
        handle: handle.to_owned(),
        display_name: name.to_owned(),
        subject: String::new(),
    };
    match graph.create_user(authed(request, token)?).await {
        Ok(created) => created
            .into_inner()
            .user
            .map(|user| user.user_id)
            .ok_or_else(|| anyhow!("CreateUser {handle} answered without a user")),
        Err(status) if status.code() == Code::AlreadyExists => {
            let me = graph
                .get_me(authed(GetMeRequest {}, token)?)
                .await
                .map_err(|status| {
                    call_failed(
                        &format!(
                            "the handle {handle} is taken and GetMe as {handle} (after CreateUser)"
                        ),
                        &status,
                    )
                })?;
            me.into_inner()
                .user
                .map(|user| user.user_id)
                .ok_or_else(|| anyhow!("GetMe as {handle} answered without a user"))
        }
        Err(status) => Err(call_failed(&format!("CreateUser {handle}"), &status)),
    }
}

/// Polls `reader`'s first page until it holds `posts` items: fan-out is asynchronous.
async fn wait_for_feed(reader: &Person, posts: usize) -> Result<()> {
    let feed = FeedServiceClient::new(connect("feed-read-service", FEED_ADDR).await?);
    eventually(
        &format!(
            "{}'s timeline holding the demo's {posts} posts",
            reader.handle
        ),
        FANOUT_DEADLINE,
        || {
            let mut feed = feed.clone();
            async move {
                let request = GetFeedRequest {
                    user_id: reader.user_id,
                    page_size: Some(20),
                    page_token: String::new(),
                };
                let page = feed
                    .get_feed(authed(request, &reader.token)?)
                    .await
                    .map_err(|status| call_failed("GetFeed", &status))?
                    .into_inner();
                if page.items.len() >= posts {
                    Ok(())
                } else {
                    Err(anyhow!("{} of {posts} posts so far", page.items.len()))
                }
            }
        },
    )
    .await
}

/// Registers [`APP_NAME`], or, when an earlier run did, gives it a fresh key (a key is shown
/// only once, so the old one cannot be printed again).
async fn ensure_app() -> Result<CreatedApp> {
    let channel = connect("log-ingest-service", LOGS_ADDR).await?;
    let token = logs_app::admin_token(None);
    match logs_app::create(channel.clone(), APP_NAME, token.as_deref()).await {
        Ok(app) => Ok(app),
        Err(status) if status.code() == Code::AlreadyExists => {
            let mut request = Request::new(RotateAppKeyRequest {
                app_id: 0,
                app_name: APP_NAME.to_owned(),
            });
            logs_app::add_admin_credentials(&mut request, token.as_deref())?;
            let rotated = LogServiceClient::new(channel)
                .rotate_app_key(request)
                .await
                .map_err(|status| call_failed(&format!("RotateAppKey {APP_NAME}"), &status))?
                .into_inner();
            Ok(CreatedApp {
                app_id: rotated.key.as_ref().map_or(0, |key| key.app_id),
                name: APP_NAME.to_owned(),
                key: rotated.app_key,
            })
        }
        Err(status) => Err(call_failed(&format!("CreateApp {APP_NAME}"), &status)),
    }
}

/// Three records stamped now, sent with the app's key (acknowledged once committed).
async fn ingest_records(app: &CreatedApp) -> Result<()> {
    let channel = connect("log-ingest-service", LOGS_ADDR).await?;
    let mut client = logs_app::keyed_client(channel, &app.key)?;
    let time = logs_app::now();
    let record = |level: Severity, service: &str, message: &str| LogRecord {
        time: Some(time),
        level: level as i32,
        service: service.to_owned(),
        message: message.to_owned(),
        ..Default::default()
    };
    let records = vec![
        record(Severity::Info, "checkout", "order placed"),
        record(Severity::Warn, "checkout", "card declined"),
        record(Severity::Error, "shipping", "carrier timed out"),
    ];
    client
        .ingest(IngestRequest { records })
        .await
        .map_err(|status| call_failed("Ingest", &status))?;
    Ok(())
}

/// The world as shell variables, then calls that use them.
fn print(people: &[Person], post_ids: &[i64], app: &CreatedApp) {
    let var = |person: &Person| person.handle.to_uppercase();
    println!(
        "demo world seeded: {} users, {} follows, {} posts, log app {} (app_id {})",
        people.len(),
        FOLLOWS.len(),
        POSTS.len(),
        app.name,
        app.app_id
    );
    println!();
    println!("# paste these into your shell (tokens valid a day; the app key is shown only now):");
    for person in people {
        println!(
            "export {name}='{}' {name}_ID={}",
            person.token,
            person.user_id,
            name = var(person)
        );
    }
    println!("export APP_KEY='{}'", app.key);
    println!();
    println!("# then try:");
    let post = "127.0.0.1:50051";
    let (ada, alan) = (&people[0], &people[2]);
    let (a, l) = (var(ada), var(alan));
    println!(
        "grpcurl -plaintext -H \"authorization: Bearer ${l}\" -d '{{\"user_id\":{},\"page_size\":10}}' \
         127.0.0.1:50053 feedline.feed.v1.FeedService/GetFeed   # alan's home timeline",
        alan.user_id
    );
    println!(
        "grpcurl -plaintext -H \"authorization: Bearer ${a}\" -d '{{\"user_id\":{}}}' {post} \
         feedline.graph.v1.GraphService/ListFollowers   # who follows ada",
        ada.user_id
    );
    println!(
        "grpcurl -plaintext -H \"authorization: Bearer ${a}\" -d '{{\"author_id\":{},\"body\":\"hello from the demo\"}}' \
         {post} feedline.post.v1.PostService/CreatePost   # a new post: it reaches grace, alan and edsger",
        ada.user_id
    );
    if let Some(first) = post_ids.first() {
        println!(
            "grpcurl -plaintext -H \"authorization: Bearer ${a}\" -d '{{\"post_id\":{first}}}' {post} \
             feedline.post.v1.PostService/GetPost"
        );
    }
    println!(
        "grpcurl -plaintext -H \"authorization: Bearer ${l}\" -d '{{\"follower_id\":{},\"followee_id\":{}}}' \
         {post} feedline.graph.v1.GraphService/Unfollow   # alan stops following ada",
        alan.user_id, ada.user_id
    );
    println!(
        "grpcurl -plaintext -H \"x-app-key: $APP_KEY\" -d '{{\"min_level\":\"SEVERITY_WARN\",\"page_size\":20}}' \
         127.0.0.1:50054 feedline.logs.v1.LogService/QueryLogs"
    );
    println!(
        "grpcurl -plaintext -H \"x-app-key: $APP_KEY\" -d '{{\"records\":[{{\"time\":\"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'\",\
         \"level\":\"SEVERITY_INFO\",\"service\":\"checkout\",\"message\":\"hello\"}}]}}' \
         127.0.0.1:50054 feedline.logs.v1.LogService/Ingest"
    );
}

/// Connects to `addr`, failing within a few seconds with a hint when the stack is not up.
async fn connect(name: &str, addr: &'static str) -> Result<Channel> {
    Channel::from_static(addr)
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .with_context(|| {
            format!("cannot connect to {name} at {addr}: is `cargo xtask up` running?")
        })
}

/// `body` with `authorization: Bearer <token>`.
fn authed<T>(body: T, token: &str) -> Result<Request<T>> {
    let mut request = Request::new(body);
    let value = feedline_auth::bearer_value(token).map_err(|problem| anyhow!(problem))?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

/// One line naming the call and the status it got.
fn call_failed(call: &str, status: &tonic::Status) -> anyhow::Error {
    anyhow!("{call} failed: {}", logs_app::describe(status))
}
