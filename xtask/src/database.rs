//! Databases on a PostgreSQL or MySQL/MariaDB server: the two `cargo xtask up --database URL`
//! runs the services on (created when missing, kept between runs like `.feedline/`'s SQLite
//! files), and the URL surgery the benchmarks share.

#[cfg(feature = "dev")]
use std::time::Duration;

#[cfg(feature = "dev")]
use anyhow::Context as _;
use anyhow::{Result, bail};
#[cfg(feature = "dev")]
use sea_orm::{ConnectOptions, ConnectionTrait as _, Database, DbBackend, Statement};

/// post-service's database when the URL names none.
const DEFAULT_NAME: &str = "feedline";
/// How long the server may take to accept a connection.
#[cfg(feature = "dev")]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where `up --database` puts each database service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerDatabases {
    /// post-service: the database the URL names, `feedline` if none.
    pub post: String,
    /// log-ingest-service: the same name with `_logs` (its own migrations, its own database).
    pub logs: String,
}

impl ServerDatabases {
    /// The two URLs for `url` (`postgres://`, `postgresql://` or `mysql://`), not yet created.
    pub fn for_url(url: &str) -> Result<Self> {
        let kind = Kind::of(url)?;
        let name = match database_name(url)? {
            Some(name) => name,
            None => DEFAULT_NAME.to_owned(),
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || name.len() > 58
        {
            bail!(
                "`{url}`: the database name `{name}` must be lowercase letters, digits and `_` \
                 (58 at most, `_logs` is added for log-ingest-service)"
            );
        }
        if name == kind.maintenance() {
            bail!(
                "`{url}` names the server's own `{name}` database: name one for feedline, \
                 e.g. .../{DEFAULT_NAME}"
            );
        }
        Ok(Self {
            post: with_database(url, &name)?,
            logs: with_database(url, &format!("{name}_logs"))?,
        })
    }

    /// Creates both databases where they do not exist yet.
    #[cfg(feature = "dev")]
    pub async fn create(&self) -> Result<()> {
        for url in [&self.post, &self.logs] {
            create_if_missing(url).await?;
        }
        Ok(())
    }
}

/// The server kinds `up` knows, by URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Postgres,
    Mysql,
}

impl Kind {
    fn of(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("mysql://") {
            Ok(Self::Mysql)
        } else {
            bail!("`{url}`: not a postgres://, postgresql:// or mysql:// URL")
        }
    }

    /// The database every server has, to connect to before ours exists.
    fn maintenance(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }
}

/// Creates the database `url` names unless the server has it.
#[cfg(feature = "dev")]
async fn create_if_missing(url: &str) -> Result<()> {
    let kind = Kind::of(url)?;
    let name = database_name(url)?.context("the URL names no database")?;
    let server = with_database(url, kind.maintenance())?;
    let mut options = ConnectOptions::new(server.clone());
    options
        .max_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .with_context(|| format!("cannot connect to {server}: is the server running?"))?;
    let created = async {
        match kind {
            Kind::Postgres => {
                let found = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT 1 FROM pg_database WHERE datname = $1",
                        [name.clone().into()],
                    ))
                    .await?;
                if found.is_none() {
                    db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                        .await?;
                    println!("created database {name} on {server}");
                }
            }
            Kind::Mysql => {
                db.execute_unprepared(&format!("CREATE DATABASE IF NOT EXISTS {name}"))
                    .await?;
            }
        }
        Ok::<(), sea_orm::DbErr>(())
    }
    .await;
    let _ = db.close().await;
    created.with_context(|| format!("cannot create database {name} on {server}"))
}

/// The database (path) of `url`, if it names one.
fn database_name(url: &str) -> Result<Option<String>> {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    let Some(scheme_end) = base.find("://").map(|i| i + 3) else {
        bail!("`{url}` is not a URL like postgres://user@host:5432/database");
    };
    Ok(base[scheme_end..]
        .split_once('/')
        .map(|(_, path)| path.trim_end_matches('/').to_owned())
        .filter(|path| !path.is_empty()))
}

/// `url` with its database (the path) replaced by `name`; user, host, port and query kept.
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let Some(scheme_end) = base.find("://").map(|i| i + 3) else {
        bail!("`{url}` is not a URL like postgres://user@host:5432/database");
    };
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_the_rest_kept() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/b",
            ),
            (
                "postgres://u:p@db/x?sslmode=disable",
                "postgres://u:p@db/b?sslmode=disable",
            ),
            ("postgresql://db:5433", "postgresql://db:5433/b"),
            (
                "postgres://db?sslmode=require",
                "postgres://db/b?sslmode=require",
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(with_database(given, "b").unwrap(), expected);
        }
        assert!(with_database("not a url", "b").is_err());
    }

    #[test]
    fn each_service_gets_its_own_database() {
        let pg = ServerDatabases::for_url("postgres://postgres@127.0.0.1:5432").unwrap();
        assert_eq!(pg.post, "postgres://postgres@127.0.0.1:5432/feedline");
        assert_eq!(pg.logs, "postgres://postgres@127.0.0.1:5432/feedline_logs");
        let named = ServerDatabases::for_url("mysql://root@127.0.0.1:3306/feed?x=1").unwrap();
        assert_eq!(named.post, "mysql://root@127.0.0.1:3306/feed?x=1");
        assert_eq!(named.logs, "mysql://root@127.0.0.1:3306/feed_logs?x=1");
        assert!(ServerDatabases::for_url("sqlite://x.db").is_err());
        assert!(ServerDatabases::for_url("postgres://h/Feed-1").is_err());
        assert!(ServerDatabases::for_url("postgres://h:5432/postgres").is_err());
        assert!(ServerDatabases::for_url("mysql://root@h/mysql").is_err());
    }
}
