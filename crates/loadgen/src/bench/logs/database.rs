//! The benchmark's own PostgreSQL database: created fresh on the given server, so no earlier
//! run's rows or bloat skew the figures, and dropped at the end.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use log_ingest_service::migration::create_log_records;
use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection as _};

/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A database `feedline_bench_<pid>` on the server of the `--database-url`.
pub struct BenchDatabase {
    /// The URL given, used for CREATE and DROP (a database cannot drop itself).
    server_url: String,
    pub name: String,
    /// The URL of the bench database itself.
    pub url: String,
    /// `SHOW server_version`, for the report.
    pub server_version: String,
}

impl BenchDatabase {
    /// Creates the database, replacing one of the same name an earlier crashed run left behind.
    pub async fn create(server_url: &str) -> Result<Self> {
        let mut admin = connect(server_url).await?;
        let name = format!("feedline_bench_{}", std::process::id());
        let server_version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut admin)
            .await?;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
                .execute(&mut admin)
                .await
                .with_context(|| format!("`{sql}` failed on {server_url}"))?;
        }
        admin.close().await?;
        let url = with_database(server_url, &name)?;
        Ok(Self {
            server_url: server_url.to_owned(),
            name,
            url,
            server_version,
        })
    }

    /// A new connection to the bench database.
    pub async fn connect(&self) -> Result<PgConnection> {
        connect(&self.url).await
    }

    /// Drops the database; `WITH (FORCE)` ends connections a killed service left open.
    pub async fn drop_database(self) -> Result<()> {
        let mut admin = connect(&self.server_url).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
            .execute(&mut admin)
            .await
            .with_context(|| format!("`{sql}` failed"))?;
        admin.close().await?;
        Ok(())
    }
}

/// Connects, turning an unreachable server into a message that says what to do.
pub async fn connect(url: &str) -> Result<PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => bail!(
            "cannot connect to PostgreSQL at {url}: {error}\n\
             `bench logs` needs a PostgreSQL server it may create databases on: start one \
             (e.g. `sudo apt-get install -y postgresql`) or pass --database-url"
        ),
        Err(_) => bail!(
            "PostgreSQL at {url} did not answer within {CONNECT_TIMEOUT:?}; pass --database-url \
             to use another server"
        ),
    }
}

/// Creates `table` with the schema and indexes of log-ingest-service's `log_records` (the
/// service's own DDL), for the raw baselines: the same write work as the service's.
pub async fn create_log_table(connection: &mut PgConnection, table: &str) -> Result<()> {
    let sql = create_log_records(DbBackend::Postgres, table);
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(connection)
        .await
        .with_context(|| format!("cannot create table {table}"))?;
    Ok(())
}

/// Flushes dirty pages before a run, so no run pays for the previous one's checkpoint. Needs
/// superuser; without it the runs just share the server's checkpoint schedule.
pub async fn checkpoint(connection: &mut PgConnection) {
    if let Err(error) = sqlx::raw_sql("CHECKPOINT").execute(connection).await {
        eprintln!("(CHECKPOINT before the run failed: {error})");
    }
}

/// `url` naming database `name` instead of its own, the rest (user, host, query) kept.
fn with_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_start = base.find("://").map(|i| i + 3).context("not a URL")?;
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!("{}/{name}{query}", &base[..host_end]))
}

/// Rows of `app_id` in the service's `log_records`.
pub async fn service_rows(connection: &mut PgConnection, app_id: i64) -> Result<u64> {
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log_records WHERE app_id = $1")
        .bind(app_id)
        .fetch_one(connection)
        .await
        .context("cannot count the service's rows")?;
    Ok(rows.unsigned_abs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        let cases = [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/b"),
            ("postgres://u@h", "postgres://u@h/b"),
            (
                "postgres://u@h/x?sslmode=off",
                "postgres://u@h/b?sslmode=off",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(super::with_database(url, "b").unwrap(), want);
        }
    }
}
