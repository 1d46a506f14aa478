//! Database errors classified, on which every retry decision depends: unreachable means
//! UNAVAILABLE (retryable), a unique index said no, anything else is the service's to log.
//! [`from_db_err!`](crate::from_db_err) turns a `DbErr` into a service's own error that way.

use sea_orm::sqlx;
use sea_orm::{RuntimeErr, SqlErr};

/// The error sea-orm returns, as the services' stores see it.
pub use sea_orm::DbErr;

/// Whether the database could not be reached (as opposed to rejecting the statement): such a
/// failure is worth retrying, and the caller hears UNAVAILABLE.
pub fn is_unavailable(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(_) => return true,
        DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    match runtime {
        RuntimeErr::SqlxError(e) => matches!(
            e.as_ref(),
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

/// Whether a unique index or primary key rejected the statement.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Implements `From<DbErr>` for a service's error enum, which must have the variants
/// `Unavailable(String)` and `Internal(String)`: an unreachable database
/// ([`is_unavailable`]) becomes `Unavailable` (retryable, UNAVAILABLE to the caller), anything
/// else `Internal` (ours to log).
#[macro_export]
macro_rules! from_db_err {
    ($error:ty) => {
        impl ::core::convert::From<$crate::database::db_error::DbErr> for $error {
            fn from(err: $crate::database::db_error::DbErr) -> Self {
                if $crate::database::db_error::is_unavailable(&err) {
                    Self::Unavailable(err.to_string())
                } else {
                    Self::Internal(err.to_string())
                }
            }
        }
    };
}
