//! CreateApp: registers an app and returns its key, once.

use feedline_proto::logs::v1::{App as AppMessage, CreateAppRequest, CreateAppResponse};
use feedline_proto::millis_to_timestamp;
use tonic::{Request, Response, Status};

use super::AppState;
use super::auth::{check_admin, hash_key, new_key};
use crate::error::Error;
use crate::pipeline::now_nanos;
use crate::store::App;
use crate::validate;

/// Handles LogService.CreateApp.
pub async fn create_app(
    state: &AppState,
    request: Request<CreateAppRequest>,
) -> Result<Response<CreateAppResponse>, Status> {
    check_admin(request.metadata(), state.admin_token.as_deref())?;
    let req = request.into_inner();
    validate::app_name(&req.name).map_err(Error::InvalidArgument)?;
    let store = &state.ready()?.store;
    let key = new_key();
    let app = App {
        id: state.ids.next().0,
        name: req.name,
        create_unix_nano: now_nanos(),
    };
    store.create_app(&app, &hash_key(&key)).await?;
    tracing::info!(app = %app.name, app_id = app.id, "app created");
    Ok(Response::new(CreateAppResponse {
        app: Some(AppMessage {
            app_id: app.id,
            name: app.name,
            create_time: Some(millis_to_timestamp(app.create_unix_nano / 1_000_000)),
        }),
        app_key: key,
    }))
}
