//! A post-service on a fresh database and an ephemeral port, with clients, for one test.
#![allow(dead_code, unused_macros)]

use std::net::SocketAddr;
use std::time::Duration;

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{Backend, TestDatabase, ephemeral_listener, wait_for_serving};
use sea_orm::{Database, DatabaseConnection};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A running post-service and what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub graph: GraphServiceClient<Channel>,
    pub posts: PostServiceClient<Channel>,
    /// Direct access to the service's database, to assert on what it wrote.
    pub db: DatabaseConnection,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    /// Dropped last: the database goes away after the server that uses it.
    database: TestDatabase,
}

impl TestServer {
    /// Starts post-service on `backend`; `None` when that backend is not enabled here.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[]).await
    }

    /// Same, with extra environment variables.
    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
        let database = TestDatabase::create(backend)
            .await
            .expect("test database")?;
        let listener = ephemeral_listener().await.expect("listener");
        let addr = listener.local_addr().expect("local addr");
        let mut env: Env = [
            ("FEEDLINE_DATABASE_URL", database.url().to_owned()),
            ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
            ("FEEDLINE_SHUTDOWN_GRACE_MS", "5000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = post_service::Config::from_env(&env).expect("config");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(post_service::run(config, listener, shutdown.clone()));
        wait_for_serving(addr, "", Duration::from_secs(60))
            .await
            .expect("post-service became healthy");
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        let db = Database::connect(database.url()).await.expect("db connect");
        Some(Self {
            addr,
            graph: GraphServiceClient::new(channel.clone()),
            posts: PostServiceClient::new(channel),
            db,
            shutdown,
            task,
            database,
        })
    }

    /// Stops the server and waits for its orderly shutdown.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("post-service stopped within its grace period")
            .expect("post-service task did not panic");
        result.expect("post-service run returned Ok");
        let _ = self.db.close().await;
    }
}

#[allow(unused_imports)] // not every test binary asserts violations
pub use feedline_test_harness::assert_violation;
