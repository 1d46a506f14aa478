//! post-service as a server: health follows the database, reflection works without .proto
//! files, and shutdown is orderly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::time::Duration;

use feedline_proto::graph::v1::CreateUserRequest;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{Backend, ephemeral_listener};
use tokio_stream::StreamExt as _;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_types::StatusExt as _;

use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_means_not_serving_and_unavailable() {
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Port 1 on loopback refuses connections: a database that is down.
    let env: Env = [
        (
            "FEEDLINE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/feedline",
        ),
        ("FEEDLINE_LISTEN_ADDR", &addr.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = post_service::Config::from_env(&env).unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(post_service::run(config, listener, shutdown.clone()));

    let channel = connect(addr).await;
    let mut health = HealthClient::new(channel.clone());
    for service in [
        "",
        "feedline.post.v1.PostService",
        "feedline.graph.v1.GraphService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::NotServing as i32, "{service:?}");
    }
    let status = GraphServiceClient::new(channel)
        .create_user(CreateUserRequest {
            handle: "nobody".into(),
            display_name: String::new(),
            subject: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.get_details_retry_info().is_some(),
        "UNAVAILABLE says when to retry"
    );

    // Shutdown does not wait for the database that never came.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stopped promptly")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_every_service_for_grpcurl() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let channel = connect(server.addr).await;
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "feedline.post.v1.PostService",
        "feedline.graph.v1.GraphService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_serving_and_closes_the_listener() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let addr = server.addr;
    server.stop().await;
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the port is released after shutdown");
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}
