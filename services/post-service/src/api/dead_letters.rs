//! The dead-letter admin RPCs of `PostService`: list the fan-out events the relay gave up on,
//! and requeue them. Admin scope only (PERMISSION_DENIED otherwise); the store does the work.

use feedline_proto::millis_to_timestamp;
use feedline_proto::post::v1::{
    DeadLetter, ListDeadLettersRequest, ListDeadLettersResponse, RequeueDeadLettersRequest,
    RequeueDeadLettersResponse,
};
use feedline_service_kit::auth::Caller;
use feedline_service_kit::page_token;
use feedline_service_kit::validation::Violations;

use crate::error::{Error, Result};
use crate::store::{self, MAX_REQUEUE, Store};

/// Default and largest page of dead letters.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;
/// Binds a page token to this listing.
const TOKEN_SCOPE: &[u8] = b"dead_letters";

/// Ok for a caller with the admin scope (or any caller with authentication off).
pub(super) fn require_admin(caller: &Caller) -> Result<()> {
    if caller.admin {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            "dead letters need the admin scope".into(),
        ))
    }
}

/// `ListDeadLetters`.
pub(super) async fn list(
    store: &Store,
    req: ListDeadLettersRequest,
) -> Result<ListDeadLettersResponse> {
    let mut v = Violations::new();
    let size = v.check("page_size", page_size(req.page_size));
    let after = v.check(
        "page_token",
        page_token::decode::<1>(&req.page_token, TOKEN_SCOPE).map(|t| t.map(|[after]| after)),
    );
    v.finish().map_err(Error::InvalidArgument)?;
    let page = store.dead_letters(after, size).await?;
    Ok(ListDeadLettersResponse {
        dead_letters: page.items.into_iter().map(to_proto).collect(),
        next_page_token: page
            .next_after
            .map(|after| page_token::encode(TOKEN_SCOPE, &[after]))
            .unwrap_or_default(),
    })
}

/// `RequeueDeadLetters`.
pub(super) async fn requeue(
    store: &Store,
    req: RequeueDeadLettersRequest,
) -> Result<RequeueDeadLettersResponse> {
    let mut v = Violations::new();
    match (req.all, req.event_ids.len()) {
        (true, 0) => {}
        (true, _) => v.add("event_ids", "must be empty when all is set"),
        (false, 0) => v.add("event_ids", "name at least one event id, or set all"),
        (false, n) if n > MAX_REQUEUE => {
            v.add("event_ids", format!("at most {MAX_REQUEUE} ids per call"));
        }
        (false, _) => {}
    }
    for (i, id) in req.event_ids.iter().enumerate() {
        if *id <= 0 {
            v.add(format!("event_ids[{i}]"), "must be positive");
        }
    }
    v.finish().map_err(Error::InvalidArgument)?;
    let requeued = if req.all {
        store.requeue_all_dead().await?
    } else {
        store.requeue_dead(&req.event_ids).await?
    };
    tracing::info!(requeued, all = req.all, "dead letters requeued");
    Ok(RequeueDeadLettersResponse {
        requeued: i64::try_from(requeued).unwrap_or(i64::MAX),
    })
}

fn page_size(size: i32) -> std::result::Result<u64, String> {
    match size {
        0 => Ok(DEFAULT_PAGE),
        1.. if size as u64 <= MAX_PAGE => Ok(size as u64),
        _ => Err(format!("must be 0 (for {DEFAULT_PAGE}) to {MAX_PAGE}")),
    }
}

fn to_proto(letter: store::DeadLetter) -> DeadLetter {
    DeadLetter {
        event_id: letter.id,
        kind: letter.kind,
        attempts: letter.attempts,
        error: letter.error,
        create_time: Some(millis_to_timestamp(letter.created_at_ms)),
        dead_time: Some(millis_to_timestamp(letter.dead_at_ms)),
        payload: letter.payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE));
        assert_eq!(page_size(1000), Ok(1000));
        assert!(page_size(1001).is_err());
        assert!(page_size(-1).is_err());
    }
}
