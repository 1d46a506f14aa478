//! Per-test databases on every enabled backend: usable, isolated, and gone once dropped.
//! Set FEEDLINE_TEST_POSTGRES_URL / FEEDLINE_TEST_MYSQL_URL to include the servers.

// allow-unwrap-in-tests skips helpers outside #[test] fns; a panic there fails the test too.
#![allow(clippy::unwrap_used)]

use feedline_test_harness::{Backend, TestDatabase};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

/// Whether the database behind `test_url` still exists, asked of the server (or the filesystem).
async fn exists(backend: Backend, test_url: &str) -> bool {
    let name = test_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let (db_backend, sql) = match backend {
        Backend::Sqlite => {
            let path = test_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap();
            return std::path::Path::new(path).exists();
        }
        Backend::Postgres => (
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
        ),
        Backend::Mysql => (
            DbBackend::MySql,
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?",
        ),
    };
    let server = std::env::var(backend.env_var().unwrap()).unwrap();
    let db = Database::connect(server).await.unwrap();
    let stmt = Statement::from_sql_and_values(db_backend, sql, [name.into()]);
    db.query_one_raw(stmt).await.unwrap().is_some()
}

#[tokio::test]
async fn each_enabled_backend_gives_isolated_databases_that_are_dropped() {
    for backend in Backend::ALL {
        let Some(first) = TestDatabase::create(backend).await.unwrap() else {
            eprintln!(
                "skipping {}: {:?} is not set",
                backend.name(),
                backend.env_var()
            );
            continue;
        };
        let second = TestDatabase::create(backend).await.unwrap().unwrap();
        assert_eq!(first.backend(), backend);
        assert_ne!(first.url(), second.url());

        let db = Database::connect(first.url()).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (id INT)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO t (id) VALUES (1)")
            .await
            .unwrap();
        // Same table name in the other database: it must be separate and empty.
        let other = Database::connect(second.url()).await.unwrap();
        other
            .execute_unprepared("CREATE TABLE t (id INT)")
            .await
            .unwrap();
        other.close().await.unwrap();

        let url = first.url().to_owned();
        assert!(exists(backend, &url).await);
        // `db` stays open on purpose: tests usually drop the harness while a pool is still alive.
        drop(first);
        assert!(
            !exists(backend, &url).await,
            "{} database survived drop",
            backend.name()
        );
        drop(db);
    }
}
