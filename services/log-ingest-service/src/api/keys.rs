//! RotateAppKey, RevokeAppKey and ListAppKeys: admin calls over `apps::admin`. No answer ever
//! holds a key's hash, and only RotateAppKey (like CreateApp) the new key itself.

use feedline_proto::logs::v1::{
    AppKey as AppKeyMessage, ListAppKeysRequest, ListAppKeysResponse, RevokeAppKeyRequest,
    RevokeAppKeyResponse, RotateAppKeyRequest, RotateAppKeyResponse,
};
use tonic::{Request, Response, Status};

use super::AppState;
use super::auth::admitted;
use super::query::nanos_to_timestamp;
use super::validate;
use crate::apps::admin;
use crate::error::Error;
use crate::store::AppKey;

/// A key as answered: ids and times, no secret.
pub(super) fn key_message(key: &AppKey) -> AppKeyMessage {
    AppKeyMessage {
        key_id: key.id,
        app_id: key.app_id,
        create_time: Some(nanos_to_timestamp(key.create_unix_nano)),
        revoke_time: key.revoke_unix_nano.map(nanos_to_timestamp),
    }
}

/// Handles LogService.RotateAppKey.
pub async fn rotate(
    state: &AppState,
    request: Request<RotateAppKeyRequest>,
) -> Result<Response<RotateAppKeyResponse>, Status> {
    let req = admitted("RotateAppKey", request, state.admin_token.as_deref())?;
    let app = validate::app_ref(req.app_id, &req.app_name).map_err(Error::InvalidArgument)?;
    let issued = admin::rotate(&state.ready()?.store, &state.ids, &app).await?;
    Ok(Response::new(RotateAppKeyResponse {
        key: Some(key_message(&issued.key)),
        app_key: issued.secret,
    }))
}

/// Handles LogService.RevokeAppKey.
pub async fn revoke(
    state: &AppState,
    request: Request<RevokeAppKeyRequest>,
) -> Result<Response<RevokeAppKeyResponse>, Status> {
    let req = admitted("RevokeAppKey", request, state.admin_token.as_deref())?;
    let key_id = validate::key_id(req.key_id).map_err(Error::InvalidArgument)?;
    let key = admin::revoke(&state.ready()?.store, &state.keys, key_id).await?;
    Ok(Response::new(RevokeAppKeyResponse {
        key: Some(key_message(&key)),
    }))
}

/// Handles LogService.ListAppKeys.
pub async fn list(
    state: &AppState,
    request: Request<ListAppKeysRequest>,
) -> Result<Response<ListAppKeysResponse>, Status> {
    let req = admitted("ListAppKeys", request, state.admin_token.as_deref())?;
    let app = validate::app_ref(req.app_id, &req.app_name).map_err(Error::InvalidArgument)?;
    let keys = admin::list(&state.ready()?.store, &app).await?;
    Ok(Response::new(ListAppKeysResponse {
        keys: keys.iter().map(key_message).collect(),
    }))
}
