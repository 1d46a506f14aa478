//! The run's own app of log-ingest-service, and clients that send its key.

use anyhow::{Context as _, Result, anyhow};
use feedline_proto::logs::v1::CreateAppRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// A LogService client that sends `x-app-key` on every call.
pub type KeyedClient = LogServiceClient<InterceptedService<Channel, AppKey>>;

/// Adds `x-app-key` to each request, unary and streaming alike.
#[derive(Clone)]
pub struct AppKey(AsciiMetadataValue);

impl AppKey {
    /// The key CreateApp answered, as metadata.
    pub fn new(key: &str) -> Result<Self> {
        let key = key.parse().context("the app key is not valid metadata")?;
        Ok(Self(key))
    }
}

impl Interceptor for AppKey {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("x-app-key", self.0.clone());
        Ok(request)
    }
}

/// What CreateApp answered: the app's id and its key.
#[derive(Clone, Debug)]
pub struct CreatedApp {
    pub app_id: i64,
    pub name: String,
    /// The secret for `x-app-key`.
    pub key: String,
}

/// Creates app `name` (with `x-admin-token` when given, and `bearer`: the admin scope, when
/// the stack verifies tokens).
pub async fn create(
    channel: &Channel,
    name: &str,
    admin_token: Option<&str>,
    bearer: &feedline_service_kit::auth::Credential,
) -> Result<CreatedApp> {
    let mut request = Request::new(CreateAppRequest {
        name: name.to_owned(),
    });
    bearer.apply(&mut request);
    if let Some(token) = admin_token {
        let token: AsciiMetadataValue = token
            .parse()
            .map_err(|_| anyhow!("the admin token is not valid gRPC metadata"))?;
        request.metadata_mut().insert("x-admin-token", token);
    }
    let response = LogServiceClient::new(channel.clone())
        .create_app(request)
        .await
        .map_err(|status| {
            let hint = if status.code() == tonic::Code::PermissionDenied {
                " (pass the service's FEEDLINE_ADMIN_TOKEN with --admin-token)"
            } else {
                ""
            };
            anyhow!(
                "CreateApp {name}: {:?}: {}{hint}",
                status.code(),
                status.message()
            )
        })?;
    let response = response.into_inner();
    Ok(CreatedApp {
        app_id: response.app.map_or(0, |app| app.app_id),
        name: name.to_owned(),
        key: response.app_key,
    })
}

/// One client per channel, all sending `key`.
pub fn clients(channels: &[Channel], key: &str) -> Result<Vec<KeyedClient>> {
    let key = AppKey::new(key)?;
    Ok(channels
        .iter()
        .map(|c| LogServiceClient::with_interceptor(c.clone(), key.clone()))
        .collect())
}
