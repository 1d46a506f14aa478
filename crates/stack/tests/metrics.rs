//! The metrics test: the four services as real processes (the workspace's binaries), each with
//! an admin port of its own, on SQLite and a throwaway Redis Cluster; a small load over gRPC
//! (CreateUser, Follow, CreatePost, GetFeed, refused calls, CreateApp, Ingest); then each
//! service's `/metrics` must serve its own named series, the counting ones moving, and none of
//! the series the other services own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, ensure};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{CreateAppRequest, IngestRequest, LogRecord, Severity};
use feedline_proto::post::v1::CreatePostRequest;
use feedline_test_harness::{
    Label, MetricSamples, RedisCluster, ServiceProcess, Social, TestDatabase, eventually,
    free_addr, http_get, isolated_command, workspace_binary,
};
use tonic::Code;
use tonic::transport::Channel;

/// A service of the stack, each a process of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Post,
    Fanout,
    Feed,
    Logs,
}

impl Service {
    const ALL: [Service; 4] = [Self::Post, Self::Fanout, Self::Feed, Self::Logs];

    /// Its binary, also its service name.
    fn binary(self) -> &'static str {
        match self {
            Self::Post => "post-service",
            Self::Fanout => "fanout-service",
            Self::Feed => "feed-read-service",
            Self::Logs => "log-ingest-service",
        }
    }
}

/// What a series must do under the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Be served (a level, such as a backlog that may be back at 0, or an error count).
    Exists,
    /// Be served with a larger value than before the load.
    Grows,
}

use Service::{Fanout, Feed, Logs, Post};

/// The series the dashboard and the README name, as the Prometheus exporter renders them: the
/// service whose `/metrics` serves it, name, labels that must match, what it must do. Every
/// other service must serve none of a row's samples (unless a row of its own names the same).
const SERIES: &[(Service, &str, &[Label], Expect)] = &[
    (Post, RPC, &[M_CREATE_USER, OK, GRPC], Expect::Grows),
    (Post, RPC, &[M_FOLLOW, OK, GRPC], Expect::Grows),
    (Post, RPC, &[M_CREATE_POST, OK, GRPC], Expect::Grows),
    (Post, RPC, &[M_CREATE_POST, INVALID, GRPC], Expect::Grows),
    (Post, "feedline_outbox_backlog", &[], Expect::Exists),
    (
        Post,
        "feedline_outbox_oldest_age_seconds",
        &[],
        Expect::Exists,
    ),
    (Post, "feedline_relay_lag_seconds_count", &[], Expect::Grows),
    (Post, COUNT, &[POST_POOL, USED], Expect::Exists),
    (Post, COUNT, &[POST_POOL, IDLE], Expect::Exists),
    (Post, MAX, &[POST_POOL], Expect::Exists),
    (
        Post,
        REDIS_ERRORS,
        &[("service", "post-service")],
        Expect::Exists,
    ),
    (
        Fanout,
        "feedline_fanout_lag_seconds_count",
        &[],
        Expect::Grows,
    ),
    (
        Fanout,
        "feedline_fanout_recipients_count",
        &[],
        Expect::Grows,
    ),
    (
        Fanout,
        "feedline_fanout_pipeline_commands_count",
        &[],
        Expect::Grows,
    ),
    (
        Fanout,
        REDIS_ERRORS,
        &[("service", "fanout-service")],
        Expect::Exists,
    ),
    (Feed, RPC, &[M_GET_FEED, OK, GRPC], Expect::Grows),
    (Feed, RPC, &[M_GET_FEED, INVALID, GRPC], Expect::Grows),
    (
        Feed,
        REDIS_ERRORS,
        &[("service", "feed-read-service")],
        Expect::Exists,
    ),
    (Logs, RPC, &[M_CREATE_APP, OK, GRPC], Expect::Grows),
    (Logs, RPC, &[M_INGEST, OK, GRPC], Expect::Grows),
    (Logs, "feedline_ingest_queue_records", &[], Expect::Exists),
    // The exporter appends the unit (`By`) to the name `feedline.ingest.queue.size`.
    (
        Logs,
        "feedline_ingest_queue_size_bytes",
        &[],
        Expect::Exists,
    ),
    (
        Logs,
        "feedline_ingest_batch_records_count",
        &[],
        Expect::Grows,
    ),
    (
        Logs,
        "feedline_ingest_commit_duration_seconds_count",
        &[],
        Expect::Grows,
    ),
    (Logs, "feedline_ingest_records_total", &[], Expect::Grows),
    (Logs, COUNT, &[LOGS_POOL, USED], Expect::Exists),
    (Logs, COUNT, &[LOGS_POOL, IDLE], Expect::Exists),
    (Logs, MAX, &[LOGS_POOL], Expect::Exists),
];

const RPC: &str = "rpc_server_call_duration_seconds_count";
const COUNT: &str = "db_client_connection_count";
const MAX: &str = "db_client_connection_max";
const REDIS_ERRORS: &str = "feedline_redis_errors_total";
const GRPC: Label = ("rpc_system_name", "grpc");
const OK: Label = ("rpc_response_status_code", "OK");
const INVALID: Label = ("rpc_response_status_code", "INVALID_ARGUMENT");
const M_CREATE_USER: Label = ("rpc_method", "feedline.graph.v1.GraphService/CreateUser");
const M_FOLLOW: Label = ("rpc_method", "feedline.graph.v1.GraphService/Follow");
const M_CREATE_POST: Label = ("rpc_method", "feedline.post.v1.PostService/CreatePost");
const M_GET_FEED: Label = ("rpc_method", "feedline.feed.v1.FeedService/GetFeed");
const M_CREATE_APP: Label = ("rpc_method", "feedline.logs.v1.LogService/CreateApp");
const M_INGEST: Label = ("rpc_method", "feedline.logs.v1.LogService/Ingest");
const POST_POOL: Label = ("db_client_connection_pool_name", "post-service");
const LOGS_POOL: Label = ("db_client_connection_pool_name", "log-ingest-service");
const USED: Label = ("db_client_connection_state", "used");
const IDLE: Label = ("db_client_connection_state", "idle");

/// log-ingest-service's admin token, for CreateApp.
const ADMIN_TOKEN: &str = "metrics-admin-token";

/// How long the load's effects (fan-out, relay, ingest batches) may take to show, on a busy
/// 2-core CI machine.
const SETTLE: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_serves_its_own_series_and_they_move_under_load() {
    let cluster = RedisCluster::start(3, 0).await.unwrap();
    let post_db = TestDatabase::sqlite().await.unwrap();
    let logs_db = TestDatabase::sqlite().await.unwrap();
    let stack = ProcessStack::start(&cluster, &post_db, &logs_db)
        .await
        .unwrap();
    for process in &stack.processes {
        let (status, body) = http_get(process.admin, "/healthz").await.unwrap();
        assert_eq!(status, 200, "{} /healthz: {body}", process.service.binary());
    }
    let before = stack.scrape().await.unwrap();
    stack.load().await;

    eventually(
        "every service's series served and moving",
        SETTLE,
        || async {
            let now = stack.scrape().await?;
            let problems: Vec<String> = Service::ALL
                .iter()
                .zip(before.iter().zip(&now))
                .flat_map(|(&service, (before, now))| problems(service, before, now))
                .collect();
            ensure!(problems.is_empty(), "{}", problems.join("\n"));
            Ok(())
        },
    )
    .await
    .unwrap();
}

/// One service process and its admin port.
struct Process {
    service: Service,
    admin: SocketAddr,
    process: ServiceProcess,
}

/// The four services, in [`Service::ALL`]'s order.
struct ProcessStack {
    processes: Vec<Process>,
}

impl ProcessStack {
    /// Starts every service on free ports (gRPC and admin) and waits until each is SERVING:
    /// post-service on `post_db` relaying to fanout-service every 50 ms, fanout-service and
    /// feed-read-service on `cluster` and post-service, log-ingest-service on `logs_db` with an
    /// admin token. No bearer tokens are configured, so calls need none (as `up --no-auth`).
    async fn start(
        cluster: &RedisCluster,
        post_db: &TestDatabase,
        logs_db: &TestDatabase,
    ) -> Result<Self> {
        let mut ports = BTreeSet::new();
        while ports.len() < 2 * Service::ALL.len() {
            ports.insert(free_addr()?);
        }
        let ports: Vec<SocketAddr> = ports.into_iter().collect();
        let grpc = |service: Service| ports[service as usize];
        let admin = |service: Service| ports[Service::ALL.len() + service as usize];
        let url = |service: Service| format!("http://{}", grpc(service));
        let starts = Service::ALL.map(|service| {
            let own = match service {
                Post => vec![
                    ("FEEDLINE_DATABASE_URL", post_db.url().to_owned()),
                    ("FEEDLINE_FANOUT_URL", url(Fanout)),
                    ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
                    ("FEEDLINE_REDIS_URL", cluster.url()),
                ],
                Fanout | Feed => vec![
                    ("FEEDLINE_REDIS_URL", cluster.url()),
                    ("FEEDLINE_POST_SERVICE_URL", url(Post)),
                ],
                Logs => vec![
                    ("FEEDLINE_DATABASE_URL", logs_db.url().to_owned()),
                    ("FEEDLINE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
                ],
            };
            let env = [
                ("FEEDLINE_LISTEN_ADDR", grpc(service).to_string()),
                ("FEEDLINE_METRICS_ADDR", admin(service).to_string()),
                ("RUST_LOG", "warn".to_owned()),
            ]
            .into_iter()
            .chain(own);
            async move {
                let binary = workspace_binary(service.binary())?;
                let binary = binary.to_str().expect("a UTF-8 target path");
                let mut command = isolated_command(binary, env, &[]);
                let process = ServiceProcess::spawn(&mut command, grpc(service)).await?;
                anyhow::Ok(Process {
                    service,
                    admin: admin(service),
                    process,
                })
            }
        });
        let processes = futures::future::try_join_all(starts).await?;
        Ok(Self { processes })
    }

    fn channel(&self, service: Service) -> Channel {
        let addr = self.processes[service as usize].process.addr;
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy()
    }

    /// Every service's `/metrics`, in [`Service::ALL`]'s order.
    async fn scrape(&self) -> Result<Vec<MetricSamples>> {
        let scrapes = self
            .processes
            .iter()
            .map(|process| MetricSamples::scrape(process.admin));
        futures::future::try_join_all(scrapes).await
    }

    /// A user who follows an author, posts that fan out to them (and one refused), their feed
    /// read (and one read refused), and a few log records ingested through an app of its own.
    async fn load(&self) {
        let social = Social::new(self.channel(Post));
        let author = social.user("metrics_author").await;
        let fan = social.user("metrics_fan").await;
        social.follow(fan, author).await;
        for n in 0..5 {
            social.post(author, &format!("post {n}")).await;
        }
        let empty = CreatePostRequest {
            author_id: author,
            body: String::new(),
            idempotency_key: String::new(),
        };
        let status = social.posts.clone().create_post(empty).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

        let feed = FeedServiceClient::new(self.channel(Feed));
        eventually("the posts fanned out to the fan's feed", SETTLE, || {
            let mut feed = feed.clone();
            async move {
                let request = GetFeedRequest {
                    user_id: fan,
                    ..Default::default()
                };
                let items = feed.get_feed(request).await?.into_inner().items;
                ensure!(!items.is_empty(), "the feed is still empty");
                Ok(())
            }
        })
        .await
        .unwrap();
        let refused = GetFeedRequest {
            user_id: fan,
            page_size: Some(100_000),
            ..Default::default()
        };
        let status = feed.clone().get_feed(refused).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

        let mut logs = LogServiceClient::new(self.channel(Logs));
        let app = CreateAppRequest {
            name: "metrics".into(),
        };
        let mut app = tonic::Request::new(app);
        let token = ADMIN_TOKEN.parse().expect("an ascii token");
        app.metadata_mut().insert("x-admin-token", token);
        let key = logs.create_app(app).await.unwrap().into_inner().app_key;
        let records = (0..3).map(|n| record(&format!("line {n}"))).collect();
        let mut request = tonic::Request::new(IngestRequest { records });
        let key = key.parse().expect("an ascii key");
        request.metadata_mut().insert("x-app-key", key);
        logs.ingest(request).await.unwrap();
    }
}

/// A valid INFO record, stamped now.
fn record(message: &str) -> LogRecord {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    LogRecord {
        time: Some(feedline_proto::millis_to_timestamp(now)),
        level: Severity::Info as i32,
        service: "metrics-test".into(),
        message: message.into(),
        ..Default::default()
    }
}

/// What is wrong with `service`'s scrape `now` against [`SERIES`], `before` being its scrape
/// before the load: a row of its own not served or not moving, or another service's row served.
fn problems(service: Service, before: &MetricSamples, now: &MetricSamples) -> Vec<String> {
    let me = service.binary();
    let mut problems = Vec::new();
    for &(owner, name, labels, expect) in SERIES {
        let value = now.total(name, labels);
        if owner != service {
            let mine_too = SERIES
                .iter()
                .any(|&(s, n, l, _)| s == service && n == name && l == labels);
            if let Some(value) = value.filter(|_| !mine_too) {
                let owner = owner.binary();
                problems.push(format!("{me} serves {owner}'s {name}{labels:?} = {value}"));
            }
            continue;
        }
        let Some(value) = value else {
            let served: Vec<&str> = now.names().collect();
            problems.push(format!(
                "{me} does not serve {name}{labels:?}; it serves {served:?}"
            ));
            continue;
        };
        let was = before.total(name, labels).unwrap_or(0.0);
        if expect == Expect::Grows && value <= was {
            problems.push(format!("{me}: {name}{labels:?} stayed at {value}"));
        }
    }
    problems
}
