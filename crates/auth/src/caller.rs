//! Who is calling: the verified token's subject and what its scopes allow.

/// The caller of one request, as [`crate::AuthLayer`] verified it; handlers find it in the
/// request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: the identity at the provider. Empty when authentication is off.
    pub subject: String,
    /// The token carries the admin scope: it may act for any user.
    pub admin: bool,
    /// The token carries the service scope: it may call the internal RPCs.
    pub service: bool,
    /// False when authentication is off: every call is trusted, as an admin's would be.
    pub authenticated: bool,
}

/// Why a caller may not do something: the message names the check that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// No credential reached the handler (the layer is missing): refused, never let through.
    #[error("no verified credential for this call")]
    Unauthenticated,
    /// The credential is valid but does not allow this.
    #[error("{0}")]
    PermissionDenied(String),
}

impl Caller {
    /// The caller of every request while authentication is off.
    pub fn trusted() -> Self {
        Self {
            subject: String::new(),
            admin: true,
            service: true,
            authenticated: false,
        }
    }

    /// The caller the layer stored in `extensions`; none is `Unauthenticated` (fails closed).
    pub fn of(extensions: &http::Extensions) -> Result<&Caller, CallerError> {
        extensions
            .get::<Caller>()
            .ok_or(CallerError::Unauthenticated)
    }

    /// Ok when this caller may act as the user bound to `bound` (the user whose id the call
    /// names is `requested`): an admin may act for anyone; a user only as its own user; a
    /// service as no user.
    pub fn may_act_as(&self, requested: i64, bound: Option<i64>) -> Result<(), CallerError> {
        if self.admin {
            return Ok(());
        }
        if self.service {
            return Err(CallerError::PermissionDenied(
                "a service credential cannot act as a user".into(),
            ));
        }
        match bound {
            Some(own) if own == requested => Ok(()),
            Some(own) => Err(CallerError::PermissionDenied(format!(
                "this token acts as user {own}, not as user {requested}"
            ))),
            None => Err(CallerError::PermissionDenied(
                "no user is bound to this token's subject (CreateUser binds one)".into(),
            )),
        }
    }

    /// Whether acting needs the caller's own user looked up (not for admins and services).
    pub fn needs_own_user(&self) -> bool {
        !self.admin && !self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Caller {
        Caller {
            subject: "alice".into(),
            admin: false,
            service: false,
            authenticated: true,
        }
    }

    #[test]
    fn a_user_acts_only_as_its_own_user() {
        assert!(user().may_act_as(7, Some(7)).is_ok());
        let other = user().may_act_as(8, Some(7)).unwrap_err();
        assert!(other.to_string().contains("not as user 8"), "{other}");
        let unbound = user().may_act_as(7, None).unwrap_err();
        assert!(
            unbound.to_string().contains("no user is bound"),
            "{unbound}"
        );
    }

    #[test]
    fn an_admin_acts_for_anyone_and_a_service_for_no_one() {
        let admin = Caller {
            admin: true,
            ..user()
        };
        assert!(admin.may_act_as(8, None).is_ok());
        let service = Caller {
            service: true,
            ..user()
        };
        assert!(matches!(
            service.may_act_as(7, Some(7)),
            Err(CallerError::PermissionDenied(_))
        ));
        assert!(Caller::trusted().may_act_as(1, None).is_ok());
    }

    #[test]
    fn a_missing_caller_fails_closed() {
        assert_eq!(
            Caller::of(&http::Extensions::new()),
            Err(CallerError::Unauthenticated)
        );
    }
}
