//! log-ingest-service's other validators: QueryLogs (filters, page size, and the page token
//! bound to them) and the app and key RPCs. Never a panic; a valid query is well ordered and
//! its token re-encodes to itself.
#![no_main]

#[path = "common.rs"]
mod common;

use feedline_fuzz::log_validate as validate;
use feedline_fuzz::store::AppRef;
use feedline_proto::logs::v1::{
    CreateAppRequest, ListAppKeysRequest, QueryLogsRequest, RevokeAppKeyRequest,
    RotateAppKeyRequest,
};
use feedline_service_kit::page_token;
use libfuzzer_sys::fuzz_target;

const APP_ID: i64 = 7;

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = common::pick(data) else {
        return;
    };
    match which % 5 {
        0 => {
            if let Some(r) = common::decode::<QueryLogsRequest>(bytes) {
                query(&r);
            }
        }
        1 => {
            if let Some(r) = common::decode::<CreateAppRequest>(bytes)
                && validate::app_name(&r.name).is_ok()
            {
                assert!((1..=64).contains(&r.name.len()));
            }
        }
        2 => {
            if let Some(r) = common::decode::<RotateAppKeyRequest>(bytes) {
                app_ref(r.app_id, &r.app_name);
            }
        }
        3 => {
            if let Some(r) = common::decode::<ListAppKeysRequest>(bytes) {
                app_ref(r.app_id, &r.app_name);
            }
        }
        _ => {
            if let Some(r) = common::decode::<RevokeAppKeyRequest>(bytes)
                && let Ok(id) = validate::key_id(r.key_id)
            {
                assert!(id > 0 && id == r.key_id);
            }
        }
    }
});

fn query(r: &QueryLogsRequest) {
    let Ok(q) = validate::query(r) else {
        return;
    };
    assert!((1..=1000).contains(&q.page_size));
    assert!((0..=6).contains(&q.min_level));
    if let (Some(start), Some(end)) = (q.start, q.end) {
        assert!(start < end);
    }
    for text in [&q.service, &q.message_contains, &q.trace_id]
        .into_iter()
        .flatten()
    {
        assert!(!text.is_empty() && !text.contains('\0'));
    }
    // As `api/query.rs` reads the token: bound to the app and the filters.
    let scope = q.scope(APP_ID);
    match page_token::decode::<2>(&r.page_token, &scope) {
        Ok(None) => assert!(r.page_token.is_empty()),
        Ok(Some(keys)) => assert_eq!(page_token::encode(&scope, &keys), r.page_token),
        Err(_) => {}
    }
}

fn app_ref(id: i64, name: &str) {
    match validate::app_ref(id, name) {
        Ok(AppRef::Id(got)) => assert!(got > 0 && got == id && name.is_empty()),
        Ok(AppRef::Name(got)) => {
            assert!(id == 0 && got == name);
            assert!(validate::app_name(&got).is_ok());
        }
        Err(violations) => assert!(!violations.is_empty()),
    }
}
