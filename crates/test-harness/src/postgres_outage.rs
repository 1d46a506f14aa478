//! A PostgreSQL database made unreachable for a while, for tests of how a service fails: no new
//! connection is let in, and every open one but the outage's own is ended.

use anyhow::{Context, Result, ensure};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// An outage of one PostgreSQL database; [`PostgresOutage::end`] lets connections in again.
/// Dropped without `end`, the database stays closed (a test's database is dropped anyway).
pub struct PostgresOutage {
    /// Opened before the doors closed; the one connection left, to open them again.
    admin: DatabaseConnection,
    name: String,
}

impl PostgresOutage {
    /// Closes the database at `url` (a `postgres://` URL naming it): `ALLOW_CONNECTIONS false`,
    /// then `pg_terminate_backend` on every session in it. Its users' next connect fails at once
    /// with "database ... is not currently accepting connections". The outage holds a
    /// connection to the server's `postgres` database, as PostgreSQL refuses to close the
    /// database a session is in.
    pub async fn start(url: &str) -> Result<Self> {
        let (server, name) = split_database(url)?;
        let mut options = ConnectOptions::new(format!("{server}/postgres{}", query(url)));
        options.max_connections(1).sqlx_logging(false);
        let admin = Database::connect(options).await.context("connecting")?;
        ensure!(
            admin.get_database_backend() == DbBackend::Postgres,
            "not a PostgreSQL database"
        );
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
            ))
            .await?;
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await?;
        let name = name.to_owned();
        Ok(Self { admin, name })
    }

    /// Lets connections in again.
    pub async fn end(self) -> Result<()> {
        let name = &self.name;
        self.admin
            .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
            .await?;
        self.admin.close().await?;
        Ok(())
    }
}

/// The URL up to the database name, and the name (a test database's: no quoting needed).
fn split_database(url: &str) -> Result<(&str, &str)> {
    let path = url.split('?').next().unwrap_or(url);
    let (server, name) = path.rsplit_once('/').context("no database in the URL")?;
    ensure!(
        server.contains("://") && !server.ends_with('/') && !name.is_empty(),
        "no database in {url}"
    );
    ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name {name:?} is not a plain identifier"
    );
    Ok((server, name))
}

/// `?...` of `url`, or "".
fn query(url: &str) -> &str {
    url.find('?').map_or("", |i| &url[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_split_off() {
        let url = "postgres://u:p@h:5432/feedline_t_1?sslmode=disable";
        assert_eq!(
            split_database(url).unwrap(),
            ("postgres://u:p@h:5432", "feedline_t_1")
        );
        assert_eq!(query(url), "?sslmode=disable");
        assert!(split_database("postgres://h:5432").is_err());
        assert!(split_database("postgres://h/a;drop").is_err());
    }
}
