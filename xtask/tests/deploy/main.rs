//! Deployment consistency: `docker-compose.yml` and `deploy/ecs/<service>.json` set only
//! variables the services read (a misspelt name would be ignored silently), with values their
//! config accepts, on the ports they listen on, point service URLs at the right service and
//! port, and check health with the binary's own `healthcheck` subcommand.
//!
//! Each rule is also proven to fire on small inline files that break it (`*_rules` modules).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

mod compose;
mod compose_rules;
mod contract;
mod ecs;
mod ecs_rules;
mod edit;

use std::net::SocketAddr;
use std::path::PathBuf;

use feedline_service_kit::{ConfigError, Env};
use serde_json::Value;

use compose::{check_compose, merge, parse_compose};
use ecs::check_ecs;

/// One service as the deployment files must describe it.
pub struct Service {
    /// The compose service, the ECS container and the binary in `/usr/local/bin`.
    pub name: &'static str,
    /// Its well-known port: what it listens on and what other services dial.
    pub port: u16,
    /// Its `Config::from_env`, reduced to the listen address.
    pub listen_addr: fn(&Env) -> Result<SocketAddr, ConfigError>,
}

/// The four services, with their own port constants and config readers.
pub const SERVICES: [Service; 4] = [
    Service {
        name: "post-service",
        port: post_service::config::DEFAULT_PORT,
        listen_addr: |env| post_service::Config::from_env(env).map(|c| c.server.listen_addr),
    },
    Service {
        name: "fanout-service",
        port: fanout_service::DEFAULT_PORT,
        listen_addr: |env| fanout_service::Config::from_env(env).map(|c| c.server.listen_addr),
    },
    Service {
        name: "feed-read-service",
        port: feed_read_service::DEFAULT_PORT,
        listen_addr: |env| feed_read_service::Config::from_env(env).map(|c| c.server.listen_addr),
    },
    Service {
        name: "log-ingest-service",
        port: log_ingest_service::DEFAULT_PORT,
        listen_addr: |env| log_ingest_service::Config::from_env(env).map(|c| c.server.listen_addr),
    },
];

/// A file of the repository and its text; a missing one fails the test.
fn repo_file(path: &str) -> (PathBuf, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = root.join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the deployment files are part of the repo)",
            path.display()
        )
    });
    (path, text)
}

/// Fails with every problem, one per line.
fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what} breaks the deployment contract:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn docker_compose_matches_the_services() {
    let (path, text) = repo_file("docker-compose.yml");
    assert_no_problems(
        &path.display().to_string(),
        &check_compose(&parse_compose(&text)),
    );
}

#[test]
fn compose_overrides_match_the_services() {
    let (_, base) = repo_file("docker-compose.yml");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/compose");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no override files
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml" && e != "yaml") {
            continue;
        }
        let mut doc = parse_compose(&base);
        merge(
            &mut doc,
            parse_compose(&std::fs::read_to_string(&path).unwrap()),
        );
        let what = format!("docker-compose.yml with {}", path.display());
        assert_no_problems(&what, &check_compose(&doc));
    }
}

#[test]
fn ecs_task_definitions_match_the_services() {
    let mut problems = Vec::new();
    for service in &SERVICES {
        let (path, text) = repo_file(&format!("deploy/ecs/{}.json", service.name));
        match serde_json::from_str::<Value>(&text) {
            Ok(doc) => problems.extend(check_ecs(service, &doc)),
            Err(error) => problems.push(format!("{}: {error}", path.display())),
        }
    }
    assert_no_problems("deploy/ecs", &problems);
}
