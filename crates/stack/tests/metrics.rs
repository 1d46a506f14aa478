//! The metrics test: the whole stack with telemetry's admin port on, a small load (CreatePost,
//! Follow, GetFeed, Ingest), then every named series on `/metrics`, and the ones that count
//! something moving. The stack runs in this process, so one `/metrics` (the process's global
//! meter provider) shows the instruments of all four services.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{CreateAppRequest, IngestRequest, LogRecord, Severity};
use feedline_stack::{Service, Stack};
use feedline_telemetry::TelemetrySettings;
use feedline_test_harness::eventually;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

/// What a series must do under the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Be served (a level, such as a backlog that may be back at 0, or an error count).
    Exists,
    /// Be served with a larger value than before the load.
    Grows,
}

/// The series the dashboard and the README name, as the Prometheus exporter renders them:
/// name, labels that must match, what it must do.
const SERIES: &[(&str, &[Label], Expect)] = &[
    (RPC, &[M_CREATE_POST, OK, GRPC], Expect::Grows),
    (RPC, &[M_FOLLOW, OK, GRPC], Expect::Grows),
    (RPC, &[M_GET_FEED, OK, GRPC], Expect::Grows),
    (RPC, &[M_GET_FEED, INVALID, GRPC], Expect::Grows),
    (RPC, &[M_INGEST, OK, GRPC], Expect::Grows),
    ("feedline_outbox_backlog", &[], Expect::Exists),
    ("feedline_outbox_oldest_age_seconds", &[], Expect::Exists),
    ("feedline_relay_lag_seconds_count", &[], Expect::Grows),
    ("feedline_fanout_lag_seconds_count", &[], Expect::Grows),
    ("feedline_fanout_recipients_count", &[], Expect::Grows),
    (
        "feedline_fanout_pipeline_commands_count",
        &[],
        Expect::Grows,
    ),
    ("feedline_redis_errors_total", &[], Expect::Exists),
    ("feedline_ingest_queue_records", &[], Expect::Exists),
    // The exporter appends the unit (`By`) to the name `feedline.ingest.queue.size`.
    ("feedline_ingest_queue_size_bytes", &[], Expect::Exists),
    ("feedline_ingest_batch_records_count", &[], Expect::Grows),
    (
        "feedline_ingest_commit_duration_seconds_count",
        &[],
        Expect::Grows,
    ),
    ("feedline_ingest_records_total", &[], Expect::Grows),
    (
        "db_client_connection_count",
        &[POST_POOL, USED],
        Expect::Exists,
    ),
    (
        "db_client_connection_count",
        &[POST_POOL, IDLE],
        Expect::Exists,
    ),
    ("db_client_connection_max", &[POST_POOL], Expect::Exists),
    (
        "db_client_connection_count",
        &[LOGS_POOL, USED],
        Expect::Exists,
    ),
    (
        "db_client_connection_count",
        &[LOGS_POOL, IDLE],
        Expect::Exists,
    ),
    ("db_client_connection_max", &[LOGS_POOL], Expect::Exists),
];

/// A label name and value.
type Label = (&'static str, &'static str);

const RPC: &str = "rpc_server_call_duration_seconds_count";
const GRPC: Label = ("rpc_system_name", "grpc");
const OK: Label = ("rpc_response_status_code", "OK");
const INVALID: Label = ("rpc_response_status_code", "INVALID_ARGUMENT");
const M_CREATE_POST: Label = ("rpc_method", "feedline.post.v1.PostService/CreatePost");
const M_FOLLOW: Label = ("rpc_method", "feedline.graph.v1.GraphService/Follow");
const M_GET_FEED: Label = ("rpc_method", "feedline.feed.v1.FeedService/GetFeed");
const M_INGEST: Label = ("rpc_method", "feedline.logs.v1.LogService/Ingest");
const POST_POOL: Label = ("db_client_connection_pool_name", "post-service");
const LOGS_POOL: Label = ("db_client_connection_pool_name", "log-ingest-service");
const USED: Label = ("db_client_connection_state", "used");
const IDLE: Label = ("db_client_connection_state", "idle");

/// log-ingest-service's admin token, for CreateApp.
const ADMIN_TOKEN: &str = "metrics-admin-token";

/// How long the load's effects (fan-out, relay, ingest batches) may take to show.
const SETTLE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_named_series_is_served_and_moves_under_load() {
    let env: HashMap<String, String> = [
        ("FEEDLINE_METRICS_ADDR", "127.0.0.1:0"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = TelemetrySettings::from_env(&env, "feedline-stack").unwrap();
    let telemetry = feedline_telemetry::init(&settings).unwrap();
    let admin = telemetry.metrics_addr().expect("the admin server runs");
    let (status, _) = get(admin, "/healthz").await.unwrap();
    assert_eq!(status, 200);

    let stack = Stack::builder().feed().logs();
    let stack = stack.env(Service::Logs, &[("FEEDLINE_ADMIN_TOKEN", ADMIN_TOKEN)]);
    let stack = stack.start().await.unwrap();
    let before = scrape(admin).await.unwrap();
    load(&stack).await;

    let outcome = eventually("every named series served and moving", SETTLE, || async {
        let now = scrape(admin).await?;
        let problems = problems(&before, &now);
        let served: Vec<&String> = now.keys().collect();
        ensure!(
            problems.is_empty(),
            "{}; served: {served:?}",
            problems.join("; ")
        );
        Ok(())
    })
    .await;
    stack.stop().await.unwrap();
    telemetry.shutdown().await;
    outcome.unwrap();
}

/// A user who follows an author, posts that fan out to them, their feed read (and one read
/// refused), and a few log records ingested through an app of its own.
async fn load(stack: &Stack) {
    let author = stack.user("metrics_author").await;
    let fan = stack.user("metrics_fan").await;
    stack.follow(fan, author).await;
    for n in 0..5 {
        stack.post(author, &format!("post {n}")).await;
    }

    let feed = stack.feed.as_ref().unwrap().channel().await.unwrap();
    let mut feed = FeedServiceClient::new(feed);
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
    let status = feed.get_feed(refused).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let logs = stack.logs.as_ref().unwrap().channel().await.unwrap();
    let mut logs = LogServiceClient::new(logs);
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

/// One sample: its labels and value.
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// What is wrong with `now` against [`SERIES`], `before` being the scrape before the load.
fn problems(before: &Samples, now: &Samples) -> Vec<String> {
    let mut problems = Vec::new();
    for &(name, labels, expect) in SERIES {
        let Some(value) = total(now, name, labels) else {
            problems.push(format!("{name}{labels:?} is not served"));
            continue;
        };
        let was = total(before, name, labels).unwrap_or(0.0);
        if expect == Expect::Grows && value <= was {
            problems.push(format!("{name}{labels:?} stayed at {value}"));
        }
    }
    problems
}

/// The sum of `name`'s samples whose labels include `labels`; `None` when there is none.
fn total(samples: &Samples, name: &str, labels: &[Label]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .get(name)?
        .iter()
        .filter(|(have, _)| {
            labels
                .iter()
                .all(|(k, v)| have.get(*k).is_some_and(|h| h == v))
        })
        .map(|(_, value)| *value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// `GET /metrics`, parsed.
async fn scrape(addr: SocketAddr) -> Result<Samples> {
    let (status, body) = get(addr, "/metrics").await?;
    ensure!(status == 200, "/metrics answered {status}: {body}");
    parse(&body)
}

/// A plain HTTP/1.1 GET of `path`: the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status code")?;
    Ok((status, body.to_owned()))
}

/// The Prometheus text format: `name{k="v",...} value` lines; comments skipped.
fn parse(text: &str) -> Result<Samples> {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').context("no value")?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("bad value: {line}"))?;
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let labels = rest.strip_suffix('}').context("no closing brace")?;
                (name, parse_labels(labels).with_context(|| line.to_owned())?)
            }
        };
        samples
            .entry(name.to_owned())
            .or_default()
            .push((labels, value));
    }
    Ok(samples)
}

/// `k="v",k2="v2"` (values may hold escaped quotes and commas).
fn parse_labels(mut rest: &str) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").context("no =\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                Some((_, c)) => value.push(c),
                None => bail!("unterminated label value"),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}
