//! A fresh, empty database per test on SQLite, PostgreSQL or MySQL/MariaDB, dropped afterwards.

use std::time::Duration;

use anyhow::{Context, Result};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use tempfile::TempDir;

/// A database engine the storage tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file in a temp dir; always available.
    Sqlite,
    /// A server named by `FEEDLINE_TEST_POSTGRES_URL`.
    Postgres,
    /// A MySQL or MariaDB server named by `FEEDLINE_TEST_MYSQL_URL`.
    Mysql,
}

impl Backend {
    /// Every backend, for running one suite against each.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// Short lowercase name: "sqlite", "postgres" or "mysql".
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// The env var holding the server URL; None for SQLite, which needs no server.
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("FEEDLINE_TEST_POSTGRES_URL"),
            Backend::Mysql => Some("FEEDLINE_TEST_MYSQL_URL"),
        }
    }

    /// True for SQLite; for servers, true when their env var is set and non-empty.
    pub fn enabled(self) -> bool {
        self == Backend::Sqlite || self.server_url().is_some()
    }

    fn server_url(self) -> Option<String> {
        std::env::var(self.env_var()?)
            .ok()
            .filter(|url| !url.is_empty())
    }
}

/// One test's own database; dropping it drops the database (or deletes the SQLite file).
pub struct TestDatabase {
    backend: Backend,
    url: String,
    /// Server URL and database name that Drop removes; None for SQLite.
    server: Option<(String, String)>,
    /// Holds the SQLite file; dropping it deletes the file.
    _dir: Option<TempDir>,
}

impl TestDatabase {
    /// Creates a fresh, empty database, or returns Ok(None) when `backend` is not enabled.
    pub async fn create(backend: Backend) -> Result<Option<TestDatabase>> {
        if backend == Backend::Sqlite {
            let dir = tempfile::Builder::new()
                .prefix("feedline-sqlite-")
                .tempdir()?;
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            return Ok(Some(TestDatabase {
                backend,
                url,
                server: None,
                _dir: Some(dir),
            }));
        }
        let Some(server_url) = backend.server_url() else {
            return Ok(None);
        };
        let name = format!("feedline_t_{:016x}", rand::random::<u64>());
        admin(backend, &server_url, &format!("CREATE DATABASE {name}")).await?;
        let url = with_database(&server_url, &name)?;
        let server = Some((server_url, name));
        Ok(Some(TestDatabase {
            backend,
            url,
            server,
            _dir: None,
        }))
    }

    /// A fresh SQLite database: SQLite needs no server, so it is always enabled.
    pub async fn sqlite() -> Result<TestDatabase> {
        let database = TestDatabase::create(Backend::Sqlite).await?;
        database.context("sqlite is always enabled")
    }

    /// The URL to hand to `sea_orm::Database::connect`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which engine this database lives on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server_url, name)) = self.server.take() else {
            return;
        };
        let backend = self.backend;
        // FORCE ends the test's own pooled connections, which often outlive this value.
        let sql = match backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        // Drop may run on the test's runtime, which cannot block on a future itself, so the DROP
        // gets its own thread and runtime; joining keeps "gone once dropped" true for the caller.
        let dropped = std::thread::spawn(move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // Bounded: a MySQL DROP waits on metadata locks held by a stuck test transaction.
            // (The timeout must be created inside the runtime: it registers with its timer.)
            runtime.block_on(async {
                let drop = admin(backend, &server_url, &sql);
                tokio::time::timeout(Duration::from_secs(30), drop)
                    .await
                    .context("timed out")?
            })
        })
        .join();
        let error = match dropped {
            Ok(Ok(())) => return,
            Ok(Err(error)) => format!("{error:#}"),
            Err(_) => "drop thread panicked".to_owned(),
        };
        tracing::warn!(backend = backend.name(), %error, "could not drop test database");
    }
}

/// Runs one statement on the server over a single connection, without sqlx's per-statement logs.
async fn admin(backend: Backend, server_url: &str, sql: &str) -> Result<()> {
    let mut options = ConnectOptions::new(server_url);
    options.max_connections(1).sqlx_logging(false);
    let server = backend.env_var().unwrap_or_default();
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    let result = db.execute_unprepared(sql).await;
    let _ = db.close().await;
    result.with_context(|| format!("{sql} on {server}"))?;
    Ok(())
}

/// The server URL with its path replaced by `/name`, keeping credentials and query parameters.
fn with_database(server_url: &str, name: &str) -> Result<String> {
    let authority = server_url
        .find("://")
        .context("database URL has no scheme")?
        + 3;
    let end = server_url.find('?').unwrap_or(server_url.len());
    let path = server_url[authority..end]
        .find('/')
        .map_or(end, |i| authority + i);
    Ok(format!(
        "{}/{name}{}",
        &server_url[..path],
        &server_url[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_or_adds_the_database_name() {
        let cases = [
            (
                "postgres://postgres@h:5432/postgres",
                "postgres://postgres@h:5432/x",
            ),
            ("mysql://root@h:3306", "mysql://root@h:3306/x"),
            ("mysql://root@h:3306/", "mysql://root@h:3306/x"),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/x?sslmode=disable",
            ),
        ];
        for (server, want) in cases {
            assert_eq!(with_database(server, "x").unwrap(), want);
        }
        assert!(with_database("not a url", "x").is_err());
    }
}
