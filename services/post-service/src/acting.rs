//! Who a call acts as. A user acts only as the user bound to its token's subject (CreateUser
//! binds it, and a binding never changes, so lookups are cached); an admin acts for anyone;
//! a service acts as no user. With authentication off every caller is trusted.

use feedline_service_kit::auth::Caller;

use crate::error::{Error, Result};
use crate::store::Store;

/// Subjects whose user is known.
const CACHED_SUBJECTS: usize = 100_000;

/// The subject-to-user bindings seen so far.
pub struct Subjects {
    bound: quick_cache::sync::Cache<String, i64>,
}

impl std::fmt::Debug for Subjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subjects")
            .field("cached", &self.bound.len())
            .finish()
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            bound: quick_cache::sync::Cache::new(CACHED_SUBJECTS),
        }
    }
}

impl Subjects {
    /// The user bound to `subject`, if any.
    pub async fn user_of(&self, store: &Store, subject: &str) -> Result<Option<i64>> {
        if let Some(user) = self.bound.get(subject) {
            return Ok(Some(user));
        }
        let user = store.user_of_subject(subject).await?;
        if let Some(user) = user {
            self.bound.insert(subject.to_owned(), user);
        }
        Ok(user)
    }

    /// Ok when `caller` may act as `user_id`.
    pub async fn check(&self, store: &Store, caller: &Caller, user_id: i64) -> Result<()> {
        let own = if caller.needs_own_user() {
            self.user_of(store, &caller.subject).await?
        } else {
            None
        };
        Ok(caller.may_act_as(user_id, own)?)
    }
}

/// The subject CreateUser binds the new user to: the caller's own for a user; what the
/// request names (or none) for an admin; a service creates no users.
pub fn binding(caller: &Caller, requested: Option<String>) -> Result<Option<String>> {
    if caller.admin {
        return Ok(requested);
    }
    if caller.service {
        return Err(Error::PermissionDenied(
            "a service credential cannot create users".into(),
        ));
    }
    match requested {
        Some(other) if other != caller.subject => Err(Error::PermissionDenied(
            "only the admin scope may bind a user to another subject".into(),
        )),
        _ => Ok(Some(caller.subject.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(admin: bool, service: bool) -> Caller {
        Caller {
            subject: "alice".into(),
            admin,
            service,
            authenticated: true,
        }
    }

    #[test]
    fn create_user_binds_a_user_to_its_own_subject_and_an_admin_to_any() {
        let user = caller(false, false);
        assert_eq!(binding(&user, None).unwrap().as_deref(), Some("alice"));
        assert_eq!(
            binding(&user, Some("alice".into())).unwrap().as_deref(),
            Some("alice")
        );
        assert!(matches!(
            binding(&user, Some("bob".into())),
            Err(Error::PermissionDenied(_))
        ));
        let admin = caller(true, false);
        assert_eq!(
            binding(&admin, Some("bob".into())).unwrap().as_deref(),
            Some("bob")
        );
        assert_eq!(binding(&admin, None).unwrap(), None);
        assert!(matches!(
            binding(&caller(false, true), None),
            Err(Error::PermissionDenied(_))
        ));
    }
}
