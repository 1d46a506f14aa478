//! Request validation: every bad field is named, all at once.

use feedline_proto::feed::v1::GetFeedRequest;
use feedline_service_kit::validation::Violations;

use crate::error::FeedError;
use crate::feed::Cursor;

/// Items per page when the request leaves it unset, and at most.
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

/// A valid GetFeed request.
#[derive(Debug, PartialEq)]
pub(super) struct GetFeed {
    pub user_id: i64,
    pub page_size: usize,
    pub after: Option<Cursor>,
}

pub(super) fn get_feed(request: &GetFeedRequest) -> Result<GetFeed, FeedError> {
    let mut v = Violations::new();
    let user_id = v.check(
        "user_id",
        if request.user_id > 0 {
            Ok(request.user_id)
        } else {
            Err("must be a positive user id".to_owned())
        },
    );
    let page_size = v.check(
        "page_size",
        match request.page_size {
            None => Ok(DEFAULT_PAGE),
            Some(size) => usize::try_from(size)
                .ok()
                .filter(|size| (1..=MAX_PAGE).contains(size))
                .ok_or_else(|| format!("must be between 1 and {MAX_PAGE} (got {size})")),
        },
    );
    // Only a valid user can own a token; with a bad user_id that violation is enough.
    let after = if user_id > 0 {
        v.check("page_token", Cursor::decode(&request.page_token, user_id))
    } else {
        None
    };
    v.finish().map_err(FeedError::InvalidArgument)?;
    Ok(GetFeed {
        user_id,
        page_size,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(request: GetFeedRequest) -> Vec<String> {
        match get_feed(&request) {
            Err(FeedError::InvalidArgument(violations)) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        let ok = get_feed(&GetFeedRequest {
            user_id: 3,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.page_size, 20);
        assert_eq!(ok.after, None);
        for size in [0, -1, 101, i32::MIN] {
            let request = GetFeedRequest {
                user_id: 3,
                page_size: Some(size),
                page_token: String::new(),
            };
            assert_eq!(fields(request), vec!["page_size"], "page_size {size}");
        }
        let request = GetFeedRequest {
            user_id: 0,
            page_size: Some(0),
            page_token: "x".into(),
        };
        assert_eq!(fields(request), vec!["user_id", "page_size"]);
        let request = GetFeedRequest {
            user_id: 3,
            page_size: Some(100),
            page_token: "forged".into(),
        };
        assert_eq!(fields(request), vec!["page_token"]);
    }
}
