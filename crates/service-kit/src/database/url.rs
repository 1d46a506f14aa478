//! The `FEEDLINE_DATABASE_URL` setting of the database-backed services.

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
