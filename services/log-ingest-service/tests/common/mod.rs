//! A log-ingest-service alone (the stack's [`Service::Logs`]) on a fresh database and an
//! ephemeral port, with a client, for one test;
//! and the oracle load that every fault test runs.
#![allow(dead_code)]

pub mod oracle;
pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_proto::logs::v1::{
    CreateAppRequest, ListAppKeysRequest, LogRecord, RevokeAppKeyRequest, RotateAppKeyRequest,
    Severity,
};
use feedline_service_kit::Env;
use feedline_stack::{Service, Services, Stack, StackBuilder};
use feedline_test_harness::Backend;
use log_ingest_service::pipeline::FaultPlan;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tonic::transport::Channel;

#[allow(unused_imports)] // not every test binary asserts violations
pub use feedline_test_harness::assert_violation;

/// A running log-ingest-service and what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: LogServiceClient<Channel>,
    /// Direct access to the service's database, to assert on what it wrote.
    pub db: DatabaseConnection,
    pub backend: Backend,
    /// The service and its database, which goes away after the server that uses it.
    service: RunningService,
}

/// The admin token every test service is started with (`extra` may unset it with "").
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The environment of a service on `database_url` listening on `addr`.
pub fn service_env(database_url: &str, addr: SocketAddr, extra: &[(&str, &str)]) -> Env {
    let listen = addr.to_string();
    let vars = [
        ("FEEDLINE_DATABASE_URL", database_url),
        ("FEEDLINE_LISTEN_ADDR", &listen),
    ];
    let vars = vars.iter().chain(DEFAULT_ENV).chain(extra);
    vars.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// What every test service runs with, before the test's own variables.
const DEFAULT_ENV: &[(&str, &str)] = &[
    ("FEEDLINE_SHUTDOWN_GRACE_MS", "10000"),
    ("FEEDLINE_ADMIN_TOKEN", ADMIN_TOKEN),
];

impl TestServer {
    /// Starts the service on `backend`; `None` when that backend is not enabled here.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[], FaultPlan::default()).await
    }

    /// Same, with extra environment variables and injected write failures.
    pub async fn start_with(
        backend: Backend,
        extra: &[(&str, &str)],
        faults: FaultPlan,
    ) -> Option<Self> {
        if !backend.enabled() {
            return None;
        }
        let builder = Stack::builder().database(Service::Logs, backend);
        let service = RunningService::start_on(builder.logs_faults(faults), extra).await;
        let db = Database::connect(service.database_url())
            .await
            .expect("db connect");
        Some(Self {
            addr: service.addr,
            client: service.client.clone(),
            db,
            backend,
            service,
        })
    }

    /// Registers an app and returns its key.
    pub async fn create_app(&self, name: &str) -> String {
        create_app(&self.client, name).await
    }

    /// Another log-ingest-service on this server's database (a second replica), with `extra`
    /// environment.
    pub async fn replica(&self, extra: &[(&str, &str)]) -> RunningService {
        RunningService::start(self.service.database_url(), extra).await
    }

    /// Stops the server and waits for its orderly shutdown.
    pub async fn stop(self) {
        // The test's connection first: the stop deletes the database.
        let _ = self.db.close().await;
        self.service.stop().await;
    }
}

/// A log-ingest-service alone (the stack's [`Service::Logs`]) served in this process.
pub struct RunningService {
    pub addr: SocketAddr,
    pub client: LogServiceClient<Channel>,
    services: Services,
}

impl RunningService {
    /// Starts a service on `database_url`, which someone else owns (migrating it), with
    /// `extra` environment.
    pub async fn start(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let builder = Stack::builder().database_url(Service::Logs, database_url);
        Self::start_on(builder, extra).await
    }

    /// Starts log-ingest-service alone as `builder` says, with `extra` environment.
    async fn start_on(builder: StackBuilder, extra: &[(&str, &str)]) -> Self {
        let services = builder
            .env(Service::Logs, DEFAULT_ENV)
            .env(Service::Logs, extra)
            .start_only(&[Service::Logs])
            .await
            .expect("log-ingest-service became healthy");
        let addr = services
            .logs
            .as_ref()
            .expect("log-ingest-service runs")
            .addr;
        Self {
            addr,
            client: client(addr).await,
            services,
        }
    }

    /// Its database's URL.
    fn database_url(&self) -> &str {
        let url = self.services.database_url(Service::Logs);
        url.expect("log-ingest-service runs on a database")
    }

    /// Stops it and waits for its orderly shutdown.
    pub async fn stop(self) {
        let stopped = self.services.stop().await;
        stopped.expect("log-ingest-service stopped cleanly");
    }
}

/// A client of `addr` that reconnects by itself (the server may restart under it).
pub async fn client(addr: SocketAddr) -> LogServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    LogServiceClient::new(channel)
}

/// Registers `name` through CreateApp (as the admin) and returns its key.
pub async fn create_app(client: &LogServiceClient<Channel>, name: &str) -> String {
    client
        .clone()
        .create_app(as_admin(CreateAppRequest { name: name.into() }))
        .await
        .expect("CreateApp")
        .into_inner()
        .app_key
}

/// Calls each admin RPC of `client` with `token` in `x-admin-token` (none: no token), naming
/// app `app_id` and key `key_id`; each must be refused: the refusals, by RPC.
pub async fn admin_calls(
    client: &LogServiceClient<Channel>,
    token: Option<&str>,
    app_id: i64,
    key_id: i64,
) -> Vec<(&'static str, tonic::Status)> {
    fn with<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = token {
            let token = token.parse().expect("ascii token");
            request.metadata_mut().insert("x-admin-token", token);
        }
        request
    }
    let mut c = client.clone();
    let name = format!("made-{app_id}-{key_id}");
    let results = [
        (
            "CreateApp",
            c.create_app(with(token, CreateAppRequest { name }))
                .await
                .map(drop),
        ),
        (
            "RotateAppKey",
            c.rotate_app_key(with(
                token,
                RotateAppKeyRequest {
                    app_id,
                    app_name: String::new(),
                },
            ))
            .await
            .map(drop),
        ),
        (
            "RevokeAppKey",
            c.revoke_app_key(with(token, RevokeAppKeyRequest { key_id }))
                .await
                .map(drop),
        ),
        (
            "ListAppKeys",
            c.list_app_keys(with(
                token,
                ListAppKeysRequest {
                    app_id,
                    app_name: String::new(),
                },
            ))
            .await
            .map(drop),
        ),
    ];
    results
        .into_iter()
        .map(|(rpc, result)| match result {
            Ok(()) => panic!("{rpc} with {token:?} was let through"),
            Err(status) => (rpc, status),
        })
        .collect()
}

/// `message` as a request carrying [`ADMIN_TOKEN`] in `x-admin-token`.
pub fn as_admin<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-admin-token", ADMIN_TOKEN.parse().expect("ascii token"));
    request
}

/// `message` as a request carrying `key` in `x-app-key`.
pub fn with_key<T>(key: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-app-key", key.parse().expect("ascii key"));
    request
}

/// A valid INFO record, `seconds_ago` old, with client id `id` (none when empty).
pub fn record(message: &str, id: &str) -> LogRecord {
    LogRecord {
        time: Some(now_minus(0)),
        level: Severity::Info as i32,
        service: "checkout".into(),
        message: message.into(),
        attributes: [("region".to_owned(), "eu".to_owned())].into(),
        trace_id: String::new(),
        client_record_id: id.into(),
    }
}

/// The wall clock minus `millis`, as a protobuf timestamp.
pub fn now_minus(millis: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
        - millis;
    feedline_proto::millis_to_timestamp(now)
}

/// Rows in `log_records`.
pub async fn count_rows(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM log_records",
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count value")
}
