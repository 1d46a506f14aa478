//! Database errors become domain errors: unreachable means UNAVAILABLE (retryable), anything
//! else is ours to log (the classification is the kit's, shared by every service).

use feedline_service_kit::database::is_unavailable;
use sea_orm::DbErr;

use crate::error::Error;

pub(crate) use feedline_service_kit::database::is_unique_violation;

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Error::Unavailable(err.to_string())
        } else {
            Error::Internal(err.to_string())
        }
    }
}
