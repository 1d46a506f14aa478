//! A post-service alone (the stack's [`Service::Post`]) on a fresh database and an ephemeral
//! port, with clients, for one test.
#![allow(dead_code, unused_macros)]

use std::net::SocketAddr;

use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use feedline_stack::{Service, Services, Stack};
use feedline_test_harness::Backend;
use sea_orm::{Database, DatabaseConnection};
use tonic::transport::Channel;

/// A running post-service and what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub graph: GraphServiceClient<Channel>,
    pub posts: PostServiceClient<Channel>,
    /// Direct access to the service's database, to assert on what it wrote.
    pub db: DatabaseConnection,
    /// The service and its database, which goes away after the server that uses it.
    services: Services,
}

impl TestServer {
    /// Starts post-service on `backend`; `None` when that backend is not enabled here.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[]).await
    }

    /// Same, with extra environment variables.
    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
        if !backend.enabled() {
            return None;
        }
        let services = Stack::builder()
            .database(Service::Post, backend)
            .env(Service::Post, &[("FEEDLINE_SHUTDOWN_GRACE_MS", "5000")])
            .env(Service::Post, extra)
            .start_only(&[Service::Post])
            .await
            .expect("post-service became healthy");
        let post = services.post.as_ref().expect("post-service runs");
        let channel = post.channel().await.expect("connect");
        let url = services.database_url(Service::Post).expect("its database");
        let db = Database::connect(url).await.expect("db connect");
        Some(Self {
            addr: post.addr,
            graph: GraphServiceClient::new(channel.clone()),
            posts: PostServiceClient::new(channel),
            db,
            services,
        })
    }

    /// Stops the server and waits for its orderly shutdown.
    pub async fn stop(self) {
        // The test's connection first: the stop deletes the database.
        let _ = self.db.close().await;
        let stopped = self.services.stop().await;
        stopped.expect("post-service stopped cleanly");
    }
}

#[allow(unused_imports)] // not every test binary asserts violations
pub use feedline_test_harness::assert_violation;
