//! QueryLogs: the caller's app's records, newest first, filtered, in pages.

use std::collections::HashMap;

use feedline_proto::logs::v1::{LogRecord, QueryLogsRequest, QueryLogsResponse, StoredLogRecord};
use feedline_service_kit::page_token;
use prost_types::Timestamp;
use tonic::{Request, Response, Status};

use super::AppState;
use super::validate;
use crate::error::Error;
use crate::record::StoredRecord;

/// Handles LogService.QueryLogs.
pub async fn query_logs(
    state: &AppState,
    request: Request<QueryLogsRequest>,
) -> Result<Response<QueryLogsResponse>, Status> {
    let (ready, holder) = state.authenticate(request.metadata()).await?;
    let app_id = holder.app_id;
    let req = request.into_inner();
    let query = validate::query(&req).map_err(Error::InvalidArgument)?;
    // The token is bound to the app and the filters: a page of another query is refused.
    let scope = query.scope(app_id);
    let after = page_token::decode::<2>(&req.page_token, &scope)
        .map_err(|reason| Error::invalid("page_token", reason))?
        .map(|[time, id]| (time, id));
    let page = ready.store.query_records(app_id, &query, after).await?;
    Ok(Response::new(QueryLogsResponse {
        records: page.records.into_iter().map(to_message).collect(),
        next_page_token: page
            .next_after
            .map(|(time, id)| page_token::encode(&scope, &[time, id]))
            .unwrap_or_default(),
    }))
}

fn to_message(stored: StoredRecord) -> StoredLogRecord {
    let r = stored.record;
    let attributes: HashMap<String, String> =
        serde_json::from_str(&r.attributes).unwrap_or_else(|error| {
            tracing::warn!(%error, record_id = r.id, "stored attributes are not a JSON object");
            HashMap::new()
        });
    StoredLogRecord {
        record_id: r.id,
        record: Some(LogRecord {
            time: Some(nanos_to_timestamp(r.time_unix_nano)),
            level: i32::from(r.level),
            service: r.service,
            message: r.message,
            attributes,
            trace_id: r.trace_id.unwrap_or_default(),
            client_record_id: r.client_record_id.unwrap_or_default(),
        }),
        receive_time: Some(nanos_to_timestamp(stored.receive_unix_nano)),
    }
}

/// Unix nanoseconds as a protobuf timestamp.
pub(super) fn nanos_to_timestamp(nanos: i64) -> Timestamp {
    Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}
