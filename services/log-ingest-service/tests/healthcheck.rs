//! `log-ingest-service healthcheck` against the real binary: unhealthy before the server
//! listens, healthy while it is SERVING, unhealthy after SIGTERM; a bad argument exits 2.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod common;

use std::process::Output;
use std::time::Duration;

use common::process::ServiceProcess;
use feedline_service_kit::Env;
use feedline_test_harness::{TestDatabase, free_addr, isolated_command};

/// Runs `log-ingest-service ARGS` with only `env`, to completion (the check gives up at 3 s).
async fn run(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let binary = env!("CARGO_BIN_EXE_log-ingest-service");
    let output: Output = isolated_command(binary, env, args)
        .output()
        .await
        .expect("ran");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[tokio::test]
async fn healthcheck_follows_the_server_lifecycle() {
    let database = TestDatabase::sqlite().await.unwrap();
    let addr = free_addr().unwrap();
    let env = common::service_env(database.url(), addr, &[]);

    let (code, stderr) = run(&env, &["healthcheck"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!("log-ingest-service: healthcheck: cannot connect to {addr}: ");
    assert!(stderr.starts_with(&expected), "{stderr}");

    // Waits with the harness's wait_for_serving, so the next check cannot pass vacuously.
    let service = ServiceProcess::spawn(&env, addr).await;
    let (code, stderr) = run(&env, &["healthcheck"]).await;
    assert_eq!(code, Some(0), "{stderr}");

    assert!(service.terminate(Duration::from_secs(30)).await);
    let (code, stderr) = run(&env, &["healthcheck"]).await;
    assert_eq!(code, Some(1), "{stderr}");

    let (code, stderr) = run(&env, &["healthcheck", "bogus"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("usage: log-ingest-service"), "{stderr}");
}
