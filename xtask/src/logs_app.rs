//! Apps of log-ingest-service: `cargo xtask logs-app create` registers one and prints its key;
//! `up` (the demo app) and `bench logs` create theirs and send their calls through here too.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use feedline_proto::logs::v1::CreateAppRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
// loadgen's own: the same header, so `up`, `bench logs` and `load logs` authenticate alike.
pub use feedline_loadgen::scenarios::logs::app::{AppKey, KeyedClient};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// log-ingest-service's well-known address.
pub const DEFAULT_ADDR: &str = crate::cli::LOGS_ADDR;
/// The variable log-ingest-service reads its admin token from; we send the same value.
pub const ADMIN_TOKEN_ENV: &str = "FEEDLINE_ADMIN_TOKEN";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What CreateApp answered.
#[derive(Debug, Clone)]
pub struct CreatedApp {
    pub app_id: i64,
    pub name: String,
    /// The secret for `x-app-key`; the service keeps only its hash.
    pub key: String,
}

/// A client of `channel` authenticated as the app with `key`.
pub fn keyed_client(channel: Channel, key: &str) -> Result<KeyedClient> {
    Ok(LogServiceClient::with_interceptor(
        channel,
        AppKey::new(key)?,
    ))
}

/// Connects to `addr` (`http://host:port`), failing within a few seconds if nothing answers.
pub async fn connect(addr: &str) -> Result<Channel> {
    Channel::from_shared(addr.to_owned())
        .with_context(|| format!("`{addr}` is not a valid address (e.g. {DEFAULT_ADDR})"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("cannot connect to log-ingest-service at {addr}"))
}

/// The admin token `up --no-auth` gives log-ingest-service when the shell has none: without
/// bearer tokens or an admin token, the service lets nobody create apps.
pub const DEV_ADMIN_TOKEN: &str = "local-admin-token";

/// `--admin-token` if given, else `$FEEDLINE_ADMIN_TOKEN` (a shell that started the service
/// with a token usually has it exported), else the one of `up --no-auth`.
pub fn admin_token(flag: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
        .filter(|token| !token.is_empty())
        .or_else(|| Some(DEV_ADMIN_TOKEN.to_owned()))
}

/// CreateApp; the gRPC status is returned as is, so callers can act on ALREADY_EXISTS.
pub async fn create(
    channel: Channel,
    name: &str,
    admin_token: Option<&str>,
) -> Result<CreatedApp, Status> {
    let mut request = Request::new(CreateAppRequest {
        name: name.to_owned(),
    });
    add_admin_credentials(&mut request, admin_token)?;
    let response = LogServiceClient::new(channel)
        .create_app(request)
        .await?
        .into_inner();
    let app = response
        .app
        .ok_or_else(|| Status::internal("CreateApp answered without an app"))?;
    Ok(CreatedApp {
        app_id: app.app_id,
        name: app.name,
        key: response.app_key,
    })
}

/// Adds what the admin calls (CreateApp, RotateAppKey, ...) need: `admin_token` as
/// `x-admin-token`, and, since with token verification on they need the admin scope, the admin
/// bearer token of `up`.
pub fn add_admin_credentials<T>(
    request: &mut Request<T>,
    admin_token: Option<&str>,
) -> Result<(), Status> {
    if let Some(token) = admin_token {
        let token: AsciiMetadataValue = MetadataValue::try_from(token)
            .map_err(|_| Status::invalid_argument("the admin token is not valid metadata"))?;
        request.metadata_mut().insert("x-admin-token", token);
    }
    if let Some(bearer) = crate::auth::stored_admin_token() {
        let value = feedline_auth::bearer_value(&bearer).map_err(|_| {
            Status::invalid_argument("the stored admin token is not valid metadata")
        })?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(())
}

/// Now, to the second, as a protobuf Timestamp: log records must be stamped within the last
/// 7 days.
pub fn now() -> feedline_proto::prost_types::Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    feedline_proto::prost_types::Timestamp {
        seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// `cargo xtask logs-app create NAME`: prints the app id and the key.
pub async fn run_create(name: &str, addr: &str, admin_token: Option<String>) -> Result<ExitCode> {
    let channel = connect(addr).await?;
    let token = self::admin_token(admin_token);
    let app = create(channel, name, token.as_deref())
        .await
        .map_err(|status| anyhow::anyhow!("CreateApp `{name}` failed: {}", describe(&status)))?;
    println!("created app {} (app_id {})", app.name, app.app_id);
    println!(
        "app key (shown only now; send it as `x-app-key`): {}",
        app.key
    );
    Ok(ExitCode::SUCCESS)
}

/// A status as one line: the code's name and the service's message.
pub fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}
