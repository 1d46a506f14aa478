//! Deadlines and retries of feed-read-service against a real post-service, over real gRPC: the
//! stack's post-service and fanout-service on a throwaway Redis Cluster, and feed-read-service
//! in-process, reaching post-service through the harness's TCP proxy, which counts the calls
//! (HTTP/2 streams) and can black-hole them, as a frozen post-service would. A GetFeed for a
//! user without a timeline rebuilds it from post-service: one ListFolloweePosts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::{Duration, Instant};

use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_service_kit::Env;
use feedline_stack::{Running, Stack, StackBuilder};
use feedline_test_harness::{
    Backend, GrpcProxy, PostgresOutage, ProxiedCall, ephemeral_listener, eventually,
    redis_server_available, wait_for_serving,
};
use tonic::Code;
use tonic::transport::Channel;

/// feed-read's own timeout for a call to post-service when the read's deadline leaves more
/// (`CALL_TIMEOUT` in src/feed/source.rs).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// feed-read's request timeout in these tests (`FEEDLINE_REQUEST_TIMEOUT_MS`): the inbound
/// deadline of a call that brings none, well above [`CALL_TIMEOUT`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How late an answer or a reset may come past the time it is due, on a loaded 2-core CI.
const SLACK: Duration = Duration::from_millis(400);

/// The stack, and feed-read-service calling its post-service through `proxy`.
struct Setup {
    stack: Stack,
    proxy: GrpcProxy,
    feed: Running,
    reader: FeedServiceClient<Channel>,
}

impl Setup {
    async fn start(stack: StackBuilder) -> Setup {
        let stack = stack.start().await.unwrap();
        let proxy = GrpcProxy::start(stack.post.addr).await.unwrap();
        let listener = ephemeral_listener().await.unwrap();
        let env: Env = [
            (
                "FEEDLINE_LISTEN_ADDR",
                listener.local_addr().unwrap().to_string(),
            ),
            ("FEEDLINE_REDIS_URL", stack.cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", proxy.url()),
            (
                "FEEDLINE_REQUEST_TIMEOUT_MS",
                REQUEST_TIMEOUT.as_millis().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = feed_read_service::Config::from_env(&env).unwrap();
        let feed = Running::spawn(listener, config, feed_read_service::run).unwrap();
        wait_for_serving(feed.addr, "", Duration::from_secs(60))
            .await
            .unwrap();
        let reader = FeedServiceClient::new(feed.channel().await.unwrap());
        Setup {
            stack,
            proxy,
            feed,
            reader,
        }
    }

    /// GetFeed of `user`, with `timeout` as its grpc-timeout (none: the server's own), and how
    /// long it took.
    async fn get_feed(
        &self,
        user: i64,
        timeout: Option<Duration>,
    ) -> (Result<(), tonic::Status>, Duration) {
        let mut request = tonic::Request::new(GetFeedRequest {
            user_id: user,
            page_size: Some(10),
            page_token: String::new(),
        });
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        let started = Instant::now();
        let result = self.reader.clone().get_feed(request).await.map(drop);
        (result, started.elapsed())
    }

    /// The calls opened through the proxy after the first `seen`, once each was reset.
    async fn reset_calls(&self, seen: usize) -> Vec<ProxiedCall> {
        eventually("the calls were reset", Duration::from_secs(10), || {
            let calls = self.proxy.calls().split_off(seen);
            async move {
                anyhow::ensure!(!calls.is_empty(), "no call yet");
                anyhow::ensure!(calls.iter().all(|c| c.reset.is_some()), "{calls:?}");
                Ok(calls)
            }
        })
        .await
        .unwrap()
    }

    async fn stop(self) {
        self.feed.stop().await.unwrap();
        drop(self.proxy);
        self.stack.stop().await.unwrap();
    }
}

/// Asserts that `what` took `took`: about `due`, no less than 100 ms before it (timers fire
/// late, not early) and less than [`SLACK`] after.
fn assert_about(what: &str, took: Duration, due: Duration) {
    assert!(
        took >= due - Duration::from_millis(100) && took < due + SLACK,
        "{what}: after {took:?}, due at {due:?}"
    );
}

/// How long after `started` (when the read was sent) feed-read gave up `call` to post-service.
fn given_up(call: &ProxiedCall, started: Instant) -> Duration {
    call.reset.unwrap() - started
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_expires_downstream_and_the_read_ends_within_it() {
    if !redis_server_available() {
        eprintln!("skipped: no redis-server");
        return;
    }
    let setup = Setup::start(Stack::builder()).await;
    let users = [
        setup.stack.user("alice").await,
        setup.stack.user("bob").await,
        setup.stack.user("carol").await,
        setup.stack.user("dave").await,
    ];

    // The control: through the proxy, post-service answers the rebuild, one call.
    let (answer, _) = setup.get_feed(users[0], Some(Duration::from_secs(5))).await;
    answer.unwrap();
    assert_eq!(
        setup.proxy.forwarded_calls(),
        1,
        "{:?}",
        setup.proxy.calls()
    );

    // post-service frozen: every byte to and from it is swallowed.
    setup.proxy.black_hole(true);
    for (user, deadline) in [
        (users[1], Duration::from_millis(500)),
        (users[2], Duration::from_millis(1200)),
    ] {
        let seen = setup.proxy.calls().len();
        let started = Instant::now();
        let (answer, took) = setup.get_feed(user, Some(deadline)).await;
        let status = answer.unwrap_err();
        eprintln!("inbound {deadline:?}: {:?} after {took:?}", status.code());
        // The read is out of time: not UNAVAILABLE, which would ask for a retry.
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        // The read waited for post-service, and no longer than its caller's deadline.
        assert_about("the answer", took, deadline);
        // The rebuild call was made, and given up at the read's deadline, not the 2 s default.
        let calls = setup.reset_calls(seen).await;
        for call in &calls {
            assert!(!call.forwarded);
            assert_about("the call given up", given_up(call, started), deadline);
        }
    }

    // Without a deadline of its caller's, the read's is the server's 8 s, so the call to
    // post-service ends at its own 2 s default, and the read with it: post-service is too
    // slow while the read still had time, so UNAVAILABLE.
    let seen = setup.proxy.calls().len();
    let started = Instant::now();
    let (answer, took) = setup.get_feed(users[3], None).await;
    let status = answer.unwrap_err();
    eprintln!("no inbound deadline: {:?} after {took:?}", status.code());
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_about("the answer", took, CALL_TIMEOUT);
    let calls = setup.reset_calls(seen).await;
    assert_eq!(calls.len(), 1, "a timeout is not retried: {calls:?}");
    assert_about(
        "the call given up",
        given_up(&calls[0], started),
        CALL_TIMEOUT,
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_against_a_failing_post_service_stay_within_1_2x() {
    if !redis_server_available() || !Backend::Postgres.enabled() {
        // `cargo xtask test` enables PostgreSQL (and in CI fails when the server is missing).
        eprintln!("skipped: no redis-server or postgres backend not enabled");
        return;
    }
    let setup = Setup::start(Stack::builder().post_database(Backend::Postgres)).await;
    let reader = setup.stack.user("reader").await;
    // The control: post-service up, one call per read.
    let (answer, _) = setup.get_feed(reader, Some(Duration::from_secs(5))).await;
    answer.unwrap();
    assert_eq!(setup.proxy.forwarded_calls(), 1);

    // post-service's database refuses connections: every call fails UNAVAILABLE, retryable.
    let outage = PostgresOutage::start(setup.stack.post_database_url())
        .await
        .unwrap();
    let before = setup.proxy.forwarded_calls();
    let calls: usize = 200;
    for user in 1..=calls as i64 {
        let (answer, _) = setup.get_feed(user, Some(Duration::from_secs(5))).await;
        let status = answer.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let attempts = setup.proxy.forwarded_calls() - before;
    let amplification = attempts as f64 / calls as f64;
    eprintln!("{attempts} calls reached post-service for {calls} reads: {amplification:.3}x");
    // The budget starts empty and each call adds 0.2 of a retry (the control's 0.2 is below a
    // whole retry), so the bound is exact: no allowance on top.
    assert!(
        attempts <= calls * 12 / 10,
        "{attempts} calls reached post-service for {calls} reads: {amplification:.3}x"
    );
    // Retries do happen (this is not a policy that never retries passing by accident).
    assert!(attempts > calls, "{attempts} for {calls} reads");

    outage.end().await.unwrap();
    setup.stop().await;
}
