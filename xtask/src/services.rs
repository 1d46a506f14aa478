//! The services `cargo xtask up` knows: binary, port, health names, environment, started or not.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::database::ServerDatabases;

/// What every service's environment is built from.
pub struct Stack {
    /// Absolute path of `.feedline/` at the workspace root.
    pub state_dir: PathBuf,
    /// The fred URL of the local Redis Cluster.
    pub redis_url: String,
    /// `up --database`: the server databases of post-service and log-ingest-service; None
    /// for SQLite files in `state_dir`.
    pub databases: Option<ServerDatabases>,
    /// What the services verify tokens with and present to each other; None with
    /// `up --no-auth`.
    pub auth: Option<crate::auth::ServiceAuth>,
}

/// One row of the table.
pub struct Service {
    /// Also the log file name and `OTEL_SERVICE_NAME`.
    pub name: &'static str,
    /// Built with `cargo build --bin` and run from `target/debug/` (`target/perf/` with `up --perf`).
    pub bin: &'static str,
    /// Listens on 127.0.0.1:port.
    pub port: u16,
    /// The gRPC services it reports in `grpc.health.v1.Health` (besides "").
    pub health: &'static [&'static str],
    /// False until the service is implemented; `up` then lists it as not started.
    pub started: bool,
    /// Environment on top of the inherited one, `FEEDLINE_LISTEN_ADDR` and `OTEL_SERVICE_NAME`.
    pub env: fn(&Stack) -> Vec<(&'static str, String)>,
}

impl Service {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its full environment (the parent's is inherited too, so OTEL_* settings reach it).
    pub fn env(&self, stack: &Stack) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("FEEDLINE_LISTEN_ADDR", self.addr().to_string()),
            ("OTEL_SERVICE_NAME", self.name.to_owned()),
        ];
        env.extend((self.env)(stack));
        if let Some(auth) = &stack.auth {
            env.extend(auth.env(self.name));
        }
        env
    }
}

/// Every service, in start order.
pub const SERVICES: &[Service] = &[
    Service {
        name: "post-service",
        bin: "post-service",
        port: 50051,
        health: &[
            "feedline.post.v1.PostService",
            "feedline.graph.v1.GraphService",
        ],
        started: true,
        env: |stack| {
            let db = match &stack.databases {
                Some(databases) => databases.post.clone(),
                // `mode=rwc` creates the file; the service migrates it at start.
                None => sqlite(stack, "feedline.db"),
            };
            vec![
                ("FEEDLINE_DATABASE_URL", db),
                // The outbox relay streams every write to fanout-service.
                ("FEEDLINE_FANOUT_URL", "http://127.0.0.1:50052".to_owned()),
                // Per-user rate limits (with bearer tokens on) count in the cluster.
                ("FEEDLINE_REDIS_URL", stack.redis_url.clone()),
            ]
        },
    },
    Service {
        name: "fanout-service",
        bin: "fanout-service",
        port: 50052,
        health: &["feedline.fanout.v1.FanoutService"],
        started: true,
        env: redis_and_post_service,
    },
    Service {
        name: "feed-read-service",
        bin: "feed-read-service",
        port: 50053,
        health: &["feedline.feed.v1.FeedService"],
        started: true,
        env: redis_and_post_service,
    },
    Service {
        name: "log-ingest-service",
        bin: "log-ingest-service",
        port: 50054,
        health: &["feedline.logs.v1.LogService"],
        started: true,
        env: |stack| {
            // Its own file or database: log records are written in bulk, apart from
            // post-service's tables (and each service has its own migrations).
            let db = match &stack.databases {
                Some(databases) => databases.logs.clone(),
                None => sqlite(stack, "logs.db"),
            };
            let mut env = vec![("FEEDLINE_DATABASE_URL", db)];
            // Without bearer tokens the admin RPCs need an admin token (or nobody may call
            // them); one exported in the shell is inherited instead.
            let exported = std::env::var(crate::logs_app::ADMIN_TOKEN_ENV)
                .is_ok_and(|token| !token.is_empty());
            if stack.auth.is_none() && !exported {
                let token = crate::logs_app::DEV_ADMIN_TOKEN.to_owned();
                env.push((crate::logs_app::ADMIN_TOKEN_ENV, token));
            }
            env
        },
    },
];

/// The URL of the SQLite file `file` in the state folder, created if missing.
fn sqlite(stack: &Stack, file: &str) -> String {
    format!("sqlite://{}?mode=rwc", stack.state_dir.join(file).display())
}

/// fanout-service and feed-read-service: the Redis Cluster, and post-service for what it lacks
/// (fanout-service rebuilds missing follower indexes from it; feed-read-service reads cache
/// misses and missing timelines there).
fn redis_and_post_service(stack: &Stack) -> Vec<(&'static str, String)> {
    vec![
        ("FEEDLINE_REDIS_URL", stack.redis_url.clone()),
        (
            "FEEDLINE_POST_SERVICE_URL",
            "http://127.0.0.1:50051".to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_service_gets_listen_address_and_sqlite_url() {
        let stack = Stack {
            state_dir: PathBuf::from("/w/.feedline"),
            redis_url: "redis-cluster://127.0.0.1:30001".to_owned(),
            databases: None,
            auth: None,
        };
        let env = SERVICES[0].env(&stack);
        assert!(env.contains(&("FEEDLINE_LISTEN_ADDR", "127.0.0.1:50051".to_owned())));
        assert!(env.contains(&("OTEL_SERVICE_NAME", "post-service".to_owned())));
        assert!(env.contains(&(
            "FEEDLINE_DATABASE_URL",
            "sqlite:///w/.feedline/feedline.db?mode=rwc".to_owned()
        )));
    }

    #[test]
    fn log_ingest_service_gets_its_own_sqlite_file() {
        let stack = Stack {
            state_dir: PathBuf::from("/w/.feedline"),
            redis_url: "redis-cluster://127.0.0.1:30001".to_owned(),
            databases: None,
            auth: None,
        };
        let service = SERVICES
            .iter()
            .find(|s| s.name == "log-ingest-service")
            .unwrap();
        assert!(service.started);
        let env = service.env(&stack);
        assert!(env.contains(&("FEEDLINE_LISTEN_ADDR", "127.0.0.1:50054".to_owned())));
        assert!(env.contains(&(
            "FEEDLINE_DATABASE_URL",
            "sqlite:///w/.feedline/logs.db?mode=rwc".to_owned()
        )));
    }

    #[test]
    fn database_services_use_the_server_databases_when_given() {
        let stack = Stack {
            state_dir: PathBuf::from("/w/.feedline"),
            redis_url: "redis-cluster://127.0.0.1:30001".to_owned(),
            databases: Some(ServerDatabases::for_url("postgres://pg@h:5432").unwrap()),
            auth: None,
        };
        let url = |name: &str| {
            let service = SERVICES.iter().find(|s| s.name == name).unwrap();
            service
                .env(&stack)
                .into_iter()
                .find(|(k, _)| *k == "FEEDLINE_DATABASE_URL")
                .map(|(_, v)| v)
        };
        assert_eq!(
            url("post-service").as_deref(),
            Some("postgres://pg@h:5432/feedline")
        );
        assert_eq!(
            url("log-ingest-service").as_deref(),
            Some("postgres://pg@h:5432/feedline_logs")
        );
        assert_eq!(url("fanout-service"), None);
    }

    #[test]
    fn ports_are_distinct() {
        let mut ports: Vec<u16> = SERVICES.iter().map(|s| s.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), SERVICES.len());
    }

    #[test]
    fn the_front_door_builds_every_started_service() {
        let started: Vec<&str> = SERVICES
            .iter()
            .filter(|s| s.started)
            .map(|s| s.bin)
            .collect();
        assert_eq!(started, crate::handoff::SERVICE_BINS);
    }
}
