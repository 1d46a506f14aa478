//! `post-service healthcheck` against the real binary: unhealthy before the server listens,
//! healthy once it is SERVING, unhealthy again after SIGTERM; a bad argument is a usage error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

use feedline_test_harness::{ServiceProcess, TestDatabase, free_addr, isolated_command};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_post-service");

/// The binary with only `env` for an environment, so nothing leaks in from the test's own.
fn command(env: &[(&str, String)], args: &[&str]) -> Command {
    isolated_command(BINARY, env.iter().map(|(k, v)| (*k, v.as_str())), args)
}

/// Runs `post-service ARGS` to completion within 10 s (the check itself gives up after 3 s).
async fn run(env: &[(&str, String)], args: &[&str]) -> Output {
    let output = command(env, args).output();
    tokio::time::timeout(Duration::from_secs(10), output)
        .await
        .expect("finished within 10 s")
        .expect("ran")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn healthcheck_follows_the_server_lifecycle() {
    let database = TestDatabase::sqlite().await.unwrap();
    // A port nothing listens on until the service binds it.
    let addr: SocketAddr = free_addr().unwrap();
    let env = [
        ("FEEDLINE_DATABASE_URL", database.url().to_owned()),
        ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
        ("FEEDLINE_SHUTDOWN_GRACE_MS", "5000".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];

    let before = run(&env, &["healthcheck"]).await;
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    assert!(
        stderr(&before).starts_with(&format!(
            "post-service: healthcheck: cannot connect to {addr}: "
        )),
        "{}",
        stderr(&before)
    );
    assert_eq!(stderr(&before).lines().count(), 1, "{}", stderr(&before));

    // Readiness as the harness sees it, so the check below cannot pass vacuously.
    let mut service = ServiceProcess::spawn(&mut command(&env, &[]), addr)
        .await
        .expect("post-service became healthy");
    let serving = run(&env, &["healthcheck"]).await;
    assert_eq!(serving.status.code(), Some(0), "{}", stderr(&serving));
    assert!(serving.stderr.is_empty(), "{}", stderr(&serving));

    let exit = service.terminate(Duration::from_secs(30)).await;
    let exit = exit.expect("exited after SIGTERM");
    assert!(exit.success(), "{exit}");

    let after = run(&env, &["healthcheck"]).await;
    assert_eq!(after.status.code(), Some(1), "{}", stderr(&after));
    assert!(
        stderr(&after).contains("cannot connect to"),
        "{}",
        stderr(&after)
    );
}

#[tokio::test]
async fn a_bad_argument_is_a_usage_error_and_help_is_not() {
    for args in [&["bogus"][..], &["healthcheck", "bogus"]] {
        let output = run(&[], args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let line = stderr(&output);
        assert!(
            line.starts_with("post-service: ") && line.contains("usage:"),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1, "{line}");
    }
    for flag in ["--help", "-h"] {
        let output = run(&[], &[flag]).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.starts_with("post-service "), "{text}");
        assert!(
            text.contains("\nusage: post-service [healthcheck | --help | --version]\n"),
            "{text}"
        );
        // Self-contained: the settings with their defaults, not a pointer to a README.
        assert!(text.contains("FEEDLINE_LISTEN_ADDR"), "{text}");
        assert!(text.contains("FEEDLINE_METRICS_ADDR"), "{text}");
    }
}
