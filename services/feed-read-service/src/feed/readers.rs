//! Whose feed a caller may read: its own user's (the user bound to its token's subject, which
//! post-service's GetMe names; a binding never changes, so it is cached), or anyone's with the
//! admin scope. A service reads no feed. With authentication off every caller is trusted.

use feedline_service_kit::auth::Caller;

use super::source::PostSource;
use crate::error::FeedError;

/// Subjects whose user is known.
const CACHED_SUBJECTS: usize = 100_000;

/// The subject-to-user bindings seen so far.
pub struct Readers {
    bound: quick_cache::sync::Cache<String, i64>,
}

impl Default for Readers {
    fn default() -> Self {
        Self {
            bound: quick_cache::sync::Cache::new(CACHED_SUBJECTS),
        }
    }
}

impl Readers {
    /// Ok when `caller` (whose `authorization` metadata is forwarded to post-service to look
    /// up its user) may read `user_id`'s feed.
    pub async fn check(
        &self,
        source: &PostSource,
        caller: &Caller,
        authorization: Option<&str>,
        user_id: i64,
    ) -> Result<(), FeedError> {
        let own = if caller.needs_own_user() {
            self.user_of(source, &caller.subject, authorization).await?
        } else {
            None
        };
        Ok(caller.may_act_as(user_id, own)?)
    }

    async fn user_of(
        &self,
        source: &PostSource,
        subject: &str,
        authorization: Option<&str>,
    ) -> Result<Option<i64>, FeedError> {
        if let Some(user) = self.bound.get(subject) {
            return Ok(Some(user));
        }
        let Some(authorization) = authorization else {
            return Ok(None);
        };
        let user = source.me(authorization).await?;
        if let Some(user) = user {
            self.bound.insert(subject.to_owned(), user);
        }
        Ok(user)
    }
}
