//! The health poll against a real tonic server on an ephemeral listener.

use std::time::Duration;

use feedline_test_harness::{ephemeral_listener, wait_for_serving};
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;

#[tokio::test]
async fn waits_for_serving_and_reports_the_last_status() {
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("demo", ServingStatus::NotServing)
        .await;
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let err = wait_for_serving(addr, "demo", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("NOT_SERVING"), "{err:#}");

    reporter
        .set_service_status("demo", ServingStatus::Serving)
        .await;
    wait_for_serving(addr, "demo", Duration::from_secs(5))
        .await
        .unwrap();
    wait_for_serving(addr, "", Duration::from_secs(5))
        .await
        .unwrap();
    server.abort();
}

#[tokio::test]
async fn gives_up_on_a_closed_port_with_the_connection_error() {
    let addr = ephemeral_listener().await.unwrap().local_addr().unwrap();
    let err = wait_for_serving(addr, "", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("connecting"), "{err:#}");
}
