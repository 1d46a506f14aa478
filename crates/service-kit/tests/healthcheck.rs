//! The healthcheck client against real listeners: a served Health in each state, a closed port,
//! and a peer that accepts TCP but never speaks HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::{Duration, Instant};

use feedline_service_kit::healthcheck::{HealthcheckError, check};
use feedline_service_kit::{CancellationToken, Env, Health, ServerConfig, serve};
use feedline_test_harness::ephemeral_listener;
use tonic::service::RoutesBuilder;

#[tokio::test]
async fn serving_only_when_the_server_says_so() {
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig::from_env(&Env::new(), addr.port()).unwrap();
    let health = Health::new(&[]).await;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let (health, shutdown) = (health.clone(), shutdown.clone());
        async move {
            serve(
                &config,
                listener,
                RoutesBuilder::default(),
                health,
                shutdown,
            )
            .await
        }
    });

    let error = check(addr, Duration::from_secs(3)).await.unwrap_err();
    assert!(
        matches!(error, HealthcheckError::Status("NOT_SERVING")),
        "{error}"
    );
    assert_eq!(error.to_string(), "NOT_SERVING");

    health.set_serving(true).await;
    check(addr, Duration::from_secs(3)).await.unwrap();

    shutdown.cancel();
    server.await.unwrap().unwrap();
    let error = check(addr, Duration::from_secs(3)).await.unwrap_err();
    assert!(matches!(error, HealthcheckError::Connect { .. }), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_the_address() {
    let addr = ephemeral_listener().await.unwrap().local_addr().unwrap();
    let error = check(addr, Duration::from_secs(3)).await.unwrap_err();
    let line = error.to_string();
    assert!(
        line.starts_with(&format!("cannot connect to {addr}: ")),
        "{line}"
    );
    assert!(line.to_lowercase().contains("refused"), "{line}");
}

#[tokio::test]
async fn a_peer_that_never_answers_fails_within_the_deadline() {
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds every connection without a byte of HTTP/2.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let error = check(addr, Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(error, HealthcheckError::Timeout { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    holder.abort();
}
