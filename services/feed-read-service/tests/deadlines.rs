//! Deadlines and retries against a broken post-service, over real gRPC: feed-read-service runs
//! in-process on a throwaway Redis Cluster, and post-service is a stub on `:0` that either never
//! answers or always answers UNAVAILABLE, recording each call and the `grpc-timeout` it carried.
//! A GetFeed for a user without a timeline rebuilds it from post-service (ListFolloweePosts).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_service_kit::{CancellationToken, Env, Health, ServerConfig};
use feedline_test_harness::{
    RedisCluster, ephemeral_listener, eventually, redis_server_available, wait_for_serving,
};
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;

/// How post-service is broken.
#[derive(Clone, Copy)]
enum Broken {
    /// Takes every call and never answers.
    Hangs,
    /// Answers every call UNAVAILABLE at once: a retryable failure.
    Fails,
}

/// One call post-service saw: its method path and its `grpc-timeout`.
type Seen = (String, Option<Duration>);

/// A broken post-service: every method of `feedline.post.v1.PostService`.
#[derive(Clone)]
struct BrokenPostService {
    broken: Broken,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl NamedService for BrokenPostService {
    const NAME: &'static str = "feedline.post.v1.PostService";
}

impl tonic::codegen::Service<http::Request<Body>> for BrokenPostService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let timeout = feedline_service_kit::grpc_timeout(request.headers());
        let path = request.uri().path().to_owned();
        self.seen.lock().unwrap().push((path, timeout));
        let broken = self.broken;
        Box::pin(async move {
            match broken {
                Broken::Hangs => std::future::pending().await,
                Broken::Fails => Ok(tonic::Status::unavailable("post-service is down").into_http()),
            }
        })
    }
}

/// feed-read-service on a cluster, with a broken post-service.
struct Setup {
    _cluster: RedisCluster,
    feed: FeedServiceClient<tonic::transport::Channel>,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: CancellationToken,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Setup {
    async fn start(broken: Broken) -> Setup {
        let cluster = RedisCluster::start(3, 0).await.unwrap();
        let shutdown = CancellationToken::new();
        let seen = Arc::default();

        let post_listener = ephemeral_listener().await.unwrap();
        let post_addr = post_listener.local_addr().unwrap();
        let mut routes = RoutesBuilder::default();
        routes.add_service(BrokenPostService {
            broken,
            seen: Arc::clone(&seen),
        });
        let env: Env = Env::new();
        let post_config = ServerConfig::from_env(&env, 0).unwrap();
        let health = Health::new(&[]).await;
        let post_shutdown = shutdown.clone();
        let post = tokio::spawn(async move {
            feedline_service_kit::serve(&post_config, post_listener, routes, health, post_shutdown)
                .await
                .unwrap();
        });

        let env: Env = [
            ("FEEDLINE_REDIS_URL".to_owned(), cluster.url()),
            (
                "FEEDLINE_POST_SERVICE_URL".to_owned(),
                format!("http://{post_addr}"),
            ),
        ]
        .into();
        let config = feed_read_service::Config::from_env(&env).unwrap();
        let listener = ephemeral_listener().await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let feed_shutdown = shutdown.clone();
        let feed = tokio::spawn(async move {
            feed_read_service::run(config, listener, feed_shutdown)
                .await
                .unwrap();
        });
        wait_for_serving(addr, "", Duration::from_secs(20))
            .await
            .unwrap();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Setup {
            _cluster: cluster,
            feed: FeedServiceClient::new(channel),
            seen,
            shutdown,
            servers: vec![post, feed],
        }
    }

    /// GetFeed of `user` (whose timeline does not exist), with `timeout` as its grpc-timeout.
    async fn get_feed(&self, user: i64, timeout: Duration) -> Result<(), tonic::Status> {
        let mut request = tonic::Request::new(GetFeedRequest {
            user_id: user,
            page_size: Some(10),
            page_token: String::new(),
        });
        request.set_timeout(timeout);
        self.feed.clone().get_feed(request).await.map(|_| ())
    }

    /// The rebuild calls post-service saw.
    fn rebuilds(&self) -> Vec<Option<Duration>> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(path, _)| path.ends_with("/ListFolloweePosts"))
            .map(|(_, timeout)| *timeout)
            .collect()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for server in self.servers {
            server.await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_expires_downstream_and_the_read_ends_within_it() {
    if !redis_server_available() {
        eprintln!("skipped: no redis-server");
        return;
    }
    let setup = Setup::start(Broken::Hangs).await;
    let deadline = Duration::from_millis(400);
    let started = Instant::now();
    let status = setup.get_feed(1, deadline).await.unwrap_err();
    let took = started.elapsed();

    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
    assert!(
        took < deadline + Duration::from_millis(150),
        "took {took:?}"
    );
    // post-service was asked, with a timeout no longer than what the read had left.
    let rebuilds = eventually(
        "post-service saw the rebuild",
        Duration::from_secs(5),
        || {
            let rebuilds = setup.rebuilds();
            async move {
                anyhow::ensure!(!rebuilds.is_empty(), "no call yet");
                Ok(rebuilds)
            }
        },
    )
    .await
    .unwrap();
    for timeout in rebuilds {
        let timeout = timeout.expect("the outgoing call carries a grpc-timeout");
        assert!(
            timeout > Duration::ZERO && timeout < deadline,
            "outgoing {timeout:?} for an inbound {deadline:?}"
        );
    }
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_against_a_failing_post_service_stay_within_1_2x() {
    if !redis_server_available() {
        eprintln!("skipped: no redis-server");
        return;
    }
    let setup = Setup::start(Broken::Fails).await;
    let calls: u64 = 200;
    for user in 1..=calls as i64 {
        let status = setup
            .get_feed(user, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let attempts = setup.rebuilds().len() as u64;
    let amplification = attempts as f64 / calls as f64;
    eprintln!("{attempts} attempts for {calls} calls: {amplification:.3}x");
    assert!(
        attempts <= calls * 12 / 10,
        "{attempts} attempts for {calls} calls: {amplification:.3}x"
    );
    // Retries do happen (this is not a policy that never retries passing by accident).
    assert!(attempts > calls, "{attempts} attempts for {calls} calls");
    setup.stop().await;
}
