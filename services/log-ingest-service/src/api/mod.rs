//! The gRPC face of log-ingest-service: thin adapters from `feedline.logs.v1.LogService` to
//! the pipeline and the store. Every error becomes a status in `status.rs`.

mod apps;
pub mod auth;
mod ingest;
mod keys;
mod query;
mod state;
mod status;
pub mod validate;

use std::sync::Arc;

use feedline_proto::logs::v1::log_service_server::LogService;
use feedline_proto::logs::v1::{
    CreateAppRequest, CreateAppResponse, IngestRequest, IngestResponse, IngestStreamRequest,
    ListAppKeysRequest, ListAppKeysResponse, QueryLogsRequest, QueryLogsResponse,
    RevokeAppKeyRequest, RevokeAppKeyResponse, RotateAppKeyRequest, RotateAppKeyResponse,
};
use tonic::{Request, Response, Status, Streaming};

pub use state::{AppState, KeyHolder, Ready};

/// The LogService implementation.
#[derive(Clone, Debug)]
pub struct LogApi {
    state: Arc<AppState>,
}

impl LogApi {
    /// The service over `state`.
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl LogService for LogApi {
    async fn create_app(
        &self,
        request: Request<CreateAppRequest>,
    ) -> Result<Response<CreateAppResponse>, Status> {
        apps::create_app(&self.state, request).await
    }

    async fn rotate_app_key(
        &self,
        request: Request<RotateAppKeyRequest>,
    ) -> Result<Response<RotateAppKeyResponse>, Status> {
        keys::rotate(&self.state, request).await
    }

    async fn revoke_app_key(
        &self,
        request: Request<RevokeAppKeyRequest>,
    ) -> Result<Response<RevokeAppKeyResponse>, Status> {
        keys::revoke(&self.state, request).await
    }

    async fn list_app_keys(
        &self,
        request: Request<ListAppKeysRequest>,
    ) -> Result<Response<ListAppKeysResponse>, Status> {
        keys::list(&self.state, request).await
    }

    async fn ingest(
        &self,
        request: Request<IngestRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        ingest::unary(&self.state, request).await
    }

    type IngestStreamStream = ingest::AnswerStream;

    async fn ingest_stream(
        &self,
        request: Request<Streaming<IngestStreamRequest>>,
    ) -> Result<Response<Self::IngestStreamStream>, Status> {
        ingest::stream(self.state.clone(), request).await
    }

    async fn query_logs(
        &self,
        request: Request<QueryLogsRequest>,
    ) -> Result<Response<QueryLogsResponse>, Status> {
        query::query_logs(&self.state, request).await
    }
}
