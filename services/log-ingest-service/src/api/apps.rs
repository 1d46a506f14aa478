//! CreateApp: registers an app and returns its first key, once.

use feedline_proto::logs::v1::{App as AppMessage, CreateAppRequest, CreateAppResponse};
use tonic::{Request, Response, Status};

use super::AppState;
use super::auth::admitted;
use super::keys::key_message;
use super::query::nanos_to_timestamp;
use super::validate;
use crate::apps::admin;
use crate::error::Error;

/// Handles LogService.CreateApp.
pub async fn create_app(
    state: &AppState,
    request: Request<CreateAppRequest>,
) -> Result<Response<CreateAppResponse>, Status> {
    let req = admitted("CreateApp", request, state.admin_token.as_deref())?;
    validate::app_name(&req.name).map_err(Error::InvalidArgument)?;
    let store = &state.ready()?.store;
    let (app, issued) = admin::create_app(store, &state.ids, req.name).await?;
    Ok(Response::new(CreateAppResponse {
        app: Some(AppMessage {
            app_id: app.id,
            name: app.name,
            create_time: Some(nanos_to_timestamp(app.create_unix_nano)),
        }),
        app_key: issued.secret,
        key: Some(key_message(&issued.key)),
    }))
}
