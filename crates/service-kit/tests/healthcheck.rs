//! The healthcheck client against real listeners: a served Health in each state, a closed port,
//! and a peer that accepts TCP but never speaks HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::{Duration, Instant};

use feedline_service_kit::TlsConfig;
use feedline_service_kit::healthcheck::{HealthcheckError, check};
use feedline_service_kit::{CancellationToken, Env, Health, ServerConfig, serve};
use feedline_test_harness::ephemeral_listener;
use tonic::service::RoutesBuilder;

/// Serves health (and nothing else) with `config` on `listener` until `shutdown`.
fn spawn_server(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    health: &Health,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), feedline_service_kit::ServeError>> {
    let (health, shutdown) = (health.clone(), shutdown.clone());
    tokio::spawn(async move {
        serve(
            &config,
            listener,
            RoutesBuilder::default(),
            health,
            shutdown,
        )
        .await
    })
}

#[tokio::test]
async fn serving_only_when_the_server_says_so() {
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig::from_env(&Env::new(), addr.port()).unwrap();
    let health = Health::new(&[]).await;
    let shutdown = CancellationToken::new();
    let server = spawn_server(config, listener, &health, &shutdown);

    let error = check(addr, &TlsConfig::default(), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        matches!(error, HealthcheckError::Status("NOT_SERVING")),
        "{error}"
    );
    assert_eq!(error.to_string(), "NOT_SERVING");

    health.set_serving(true).await;
    check(addr, &TlsConfig::default(), Duration::from_secs(3))
        .await
        .unwrap();

    shutdown.cancel();
    server.await.unwrap().unwrap();
    let error = check(addr, &TlsConfig::default(), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(error, HealthcheckError::Connect { .. }), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_the_address() {
    let addr = ephemeral_listener().await.unwrap().local_addr().unwrap();
    let error = check(addr, &TlsConfig::default(), Duration::from_secs(3))
        .await
        .unwrap_err();
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
    let error = check(addr, &TlsConfig::default(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(error, HealthcheckError::Timeout { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    holder.abort();
}

/// A TLS server (`FEEDLINE_TLS_CERT`/`_KEY`) is checked over TLS: with the CA that signed its
/// certificate for `FEEDLINE_TLS_SERVER_NAME` it is SERVING; with another name, or as plaintext
/// configuration, the check fails.
#[tokio::test]
async fn a_tls_server_is_checked_over_tls_for_its_name() {
    let ca = feedline_test_harness::TestCa::new().unwrap();
    let listener = ephemeral_listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    let path = |p: std::path::PathBuf| p.display().to_string();
    let tls_env = |name: &str| -> Env {
        [
            ("FEEDLINE_TLS_CERT".to_owned(), path(ca.cert_file())),
            ("FEEDLINE_TLS_KEY".to_owned(), ca.key_pem().to_owned()),
            ("FEEDLINE_TLS_CA".to_owned(), path(ca.ca_file())),
            ("FEEDLINE_TLS_SERVER_NAME".to_owned(), name.to_owned()),
        ]
        .into()
    };
    let config = ServerConfig::from_env(&tls_env("localhost"), addr.port()).unwrap();
    let health = Health::new(&[]).await;
    health.set_serving(true).await;
    let shutdown = CancellationToken::new();
    let server = spawn_server(config.clone(), listener, &health, &shutdown);

    check(addr, &config.tls, Duration::from_secs(3))
        .await
        .unwrap();
    let wrong_name = TlsConfig::from_env(&tls_env("db.example.com")).unwrap();
    let error = check(addr, &wrong_name, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(error, HealthcheckError::Connect { .. }), "{error}");
    let error = check(addr, &TlsConfig::default(), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(!error.to_string().is_empty());

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[test]
fn tls_settings_come_in_pairs_and_must_hold_pem() {
    let env = |pairs: &[(&str, &str)]| -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let error = TlsConfig::from_env(&env(&[(
        "FEEDLINE_TLS_CERT",
        "-----BEGIN CERTIFICATE-----",
    )]))
    .unwrap_err();
    assert_eq!(error.variable, "FEEDLINE_TLS_KEY");
    let error =
        TlsConfig::from_env(&env(&[("FEEDLINE_TLS_CA", "/nonexistent/ca.pem")])).unwrap_err();
    assert_eq!(error.variable, "FEEDLINE_TLS_CA");
    assert!(error.reason.contains("cannot read"), "{}", error.reason);
    let error =
        TlsConfig::from_env(&env(&[("FEEDLINE_TLS_CA", "-----BEGIN NOTHING-----\n")])).unwrap_err();
    assert_eq!(error.variable, "FEEDLINE_TLS_CA");
    assert!(!TlsConfig::from_env(&Env::new()).unwrap().serves_tls());
}
