//! What the database-backed services share: the `FEEDLINE_DATABASE_URL` setting and the
//! classification of database errors, on which every retry decision depends.

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::config::{ConfigError, Env, parse_or};

/// Reads `FEEDLINE_DATABASE_URL` (default `default`), which must name SQLite, PostgreSQL or
/// MySQL/MariaDB.
pub fn database_url(env: &Env, default: &str) -> Result<String, ConfigError> {
    let url: String = parse_or(env, "FEEDLINE_DATABASE_URL", default.to_owned())?;
    let known = ["sqlite:", "postgres://", "postgresql://", "mysql://"];
    if known.iter().any(|p| url.starts_with(p)) {
        Ok(url)
    } else {
        Err(ConfigError {
            variable: "FEEDLINE_DATABASE_URL".into(),
            value: url,
            reason: "must start with sqlite:, postgres://, postgresql:// or mysql://".into(),
        })
    }
}

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
