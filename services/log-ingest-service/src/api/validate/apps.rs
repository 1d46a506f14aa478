//! Checks of the app and key RPCs' fields: an app name, the app a call names, a key id.

use feedline_service_kit::validation::FieldViolation;

use crate::store::AppRef;

/// What an app name may be.
const APP_NAME_RULE: &str = "must be 1 to 64 characters of a-z, 0-9, '-' and '_'";

fn is_app_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// Validates an app name: 1 to 64 characters of a-z, 0-9, '-' and '_'.
pub fn app_name(name: &str) -> Result<(), Vec<FieldViolation>> {
    if is_app_name(name) {
        Ok(())
    } else {
        Err(vec![FieldViolation::new("name", APP_NAME_RULE)])
    }
}

/// The app a key RPC names: exactly one of `app_id` (positive) and `app_name`.
pub fn app_ref(app_id: i64, app_name: &str) -> Result<AppRef, Vec<FieldViolation>> {
    let both = "set exactly one of app_id and app_name";
    match (app_id, app_name.is_empty()) {
        (0, true) => Err(vec![
            FieldViolation::new("app_id", both),
            FieldViolation::new("app_name", both),
        ]),
        (0, false) if is_app_name(app_name) => Ok(AppRef::Name(app_name.to_owned())),
        (0, false) => Err(vec![FieldViolation::new("app_name", APP_NAME_RULE)]),
        (id, true) if id > 0 => Ok(AppRef::Id(id)),
        (_, true) => Err(vec![FieldViolation::new("app_id", "must be positive")]),
        (_, false) => Err(vec![FieldViolation::new("app_name", both)]),
    }
}

/// A key id: positive.
pub fn key_id(id: i64) -> Result<i64, Vec<FieldViolation>> {
    if id > 0 {
        Ok(id)
    } else {
        Err(vec![FieldViolation::new(
            "key_id",
            "required; must be positive",
        )])
    }
}
