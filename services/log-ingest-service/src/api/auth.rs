//! Who a call is: the app of its `x-app-key` (Ingest, IngestStream, QueryLogs), or an admin
//! (CreateApp and the key RPCs). Admin is never the default: with neither bearer tokens nor
//! `FEEDLINE_ADMIN_TOKEN` configured, the admin RPCs are refused.

use feedline_service_kit::auth::Caller;
use tonic::Request;
use tonic::metadata::MetadataMap;

use crate::apps::secret::hash_key;
use crate::error::{Error, Result};

/// The metadata key carrying the app key.
pub const APP_KEY_HEADER: &str = "x-app-key";
/// The metadata key carrying the admin token of the admin RPCs.
pub const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// The hash of the call's `x-app-key`: UNAUTHENTICATED when missing. The key itself goes no
/// further than this.
pub fn app_key_hash(metadata: &MetadataMap) -> Result<String> {
    let key = metadata
        .get(APP_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::Unauthenticated(format!("missing {APP_KEY_HEADER} metadata")))?;
    Ok(hash_key(key))
}

/// The message of `request` once its caller passed [`check_admin`] for `rpc`.
pub fn admitted<T>(rpc: &str, request: Request<T>, token: Option<&str>) -> Result<T> {
    let caller = request.extensions().get::<Caller>();
    check_admin(rpc, request.metadata(), caller, token)?;
    Ok(request.into_inner())
}

/// Whether a call of admin RPC `rpc` may proceed. `token` is `FEEDLINE_ADMIN_TOKEN`; `caller`
/// is what the auth layer verified (with bearer tokens on, it has already required the admin
/// scope of these RPCs):
/// - a configured admin token must be in `x-admin-token` (with or without bearer tokens);
/// - without one, a verified admin bearer token suffices;
/// - with neither configured, nobody is an admin: PERMISSION_DENIED saying how to enable it.
pub fn check_admin(
    rpc: &str,
    metadata: &MetadataMap,
    caller: Option<&Caller>,
    token: Option<&str>,
) -> Result<()> {
    if let Some(expected) = token {
        let given = metadata
            .get(ADMIN_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Compare hashes: equal length, so the comparison time says nothing about the token.
        return if hash_key(given) == hash_key(expected) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "{rpc} needs the admin token in {ADMIN_TOKEN_HEADER}"
            )))
        };
    }
    match caller {
        Some(caller) if caller.authenticated && caller.admin => Ok(()),
        Some(caller) if caller.authenticated => Err(Error::PermissionDenied(format!(
            "{rpc} needs the admin scope"
        ))),
        _ => Err(Error::PermissionDenied(format!(
            "{rpc} needs an admin credential and none is configured: set FEEDLINE_ADMIN_TOKEN \
             (and send it in {ADMIN_TOKEN_HEADER}) or FEEDLINE_AUTH_JWKS (and send a bearer \
             token with the admin scope)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(authenticated: bool, admin: bool) -> Caller {
        Caller {
            subject: "root".into(),
            admin,
            service: false,
            authenticated,
        }
    }

    fn denied(result: Result<()>) -> String {
        match result {
            Err(Error::PermissionDenied(message)) => message,
            other => panic!("want PERMISSION_DENIED, got {other:?}"),
        }
    }

    #[test]
    fn a_configured_token_must_match() {
        let mut md = MetadataMap::new();
        let trusted = Caller::trusted();
        assert!(
            denied(check_admin(
                "CreateApp",
                &md,
                Some(&trusted),
                Some("s3cret")
            ))
            .contains(ADMIN_TOKEN_HEADER)
        );
        md.insert(ADMIN_TOKEN_HEADER, "s3cret".parse().unwrap());
        assert!(check_admin("CreateApp", &md, Some(&trusted), Some("s3cret")).is_ok());
        let other = denied(check_admin("CreateApp", &md, Some(&trusted), Some("other")));
        assert!(!other.contains("s3cret"), "{other}");
        // Bearer tokens on: the admin scope is not enough without the configured token.
        let admin = caller(true, true);
        assert!(
            check_admin(
                "CreateApp",
                &MetadataMap::new(),
                Some(&admin),
                Some("s3cret")
            )
            .is_err()
        );
    }

    #[test]
    fn without_a_token_only_a_verified_admin_passes() {
        let md = MetadataMap::new();
        assert!(check_admin("RotateAppKey", &md, Some(&caller(true, true)), None).is_ok());
        let user = denied(check_admin(
            "RotateAppKey",
            &md,
            Some(&caller(true, false)),
            None,
        ));
        assert!(user.contains("admin scope"), "{user}");
        // Authentication off: every caller is trusted, and still nobody is an admin here.
        for trusted in [Some(Caller::trusted()), None] {
            let off = denied(check_admin("CreateApp", &md, trusted.as_ref(), None));
            assert!(
                off.contains("FEEDLINE_ADMIN_TOKEN") && off.contains("FEEDLINE_AUTH_JWKS"),
                "{off}"
            );
        }
    }
}
