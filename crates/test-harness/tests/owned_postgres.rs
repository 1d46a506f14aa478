//! A test-owned PostgreSQL server: usable, refuses connections once stopped, and after a restart
//! on the same port still holds what was committed before the crash.

// allow-unwrap-in-tests skips helpers outside #[test] fns; a panic there fails the test too.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use feedline_test_harness::OwnedPostgres;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

/// A single-connection pool; `timeout` bounds sqlx, which retries refused connections until then.
async fn connect_within(
    url: &str,
    timeout: Duration,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(timeout)
        .acquire_timeout(timeout);
    Database::connect(options).await
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_within(url, Duration::from_secs(10)).await
}

async fn names(db: &DatabaseConnection) -> Vec<String> {
    let stmt = Statement::from_string(DbBackend::Postgres, "SELECT name FROM t ORDER BY name");
    let rows = db.query_all_raw(stmt).await.unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

#[tokio::test]
async fn survives_a_crash_and_restart_with_its_data() {
    let Some(pg) = OwnedPostgres::start().await.unwrap() else {
        eprintln!("skipping: PostgreSQL server binaries (initdb, pg_ctl) not found");
        return;
    };
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port())
    );

    let db = connect(&pg.url()).await.unwrap();
    db.execute_unprepared("SELECT 1").await.unwrap();
    db.execute_unprepared("CREATE TABLE t (name TEXT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO t (name) VALUES ('before crash')")
        .await
        .unwrap();
    assert_eq!(names(&db).await, ["before crash"]);
    db.close().await.unwrap();

    pg.stop().await.unwrap();
    // Short: a refused connection is the expected answer, and sqlx would retry it until then.
    let down = connect_within(&pg.url(), Duration::from_millis(300)).await;
    assert!(down.is_err(), "connected to a stopped server");

    pg.restart().await.unwrap();
    let db = connect(&pg.url()).await.unwrap();
    // Committed before the immediate stop, so crash recovery must have replayed it.
    assert_eq!(names(&db).await, ["before crash"]);
    db.close().await.unwrap();

    // Stopping twice in a row is a crash of an already-dead server: reported, not hung.
    pg.stop().await.unwrap();
    assert!(pg.stop().await.is_err());
    pg.restart().await.unwrap();
}

#[tokio::test]
async fn two_servers_get_their_own_ports_and_data() {
    let (Some(a), Some(b)) = (
        OwnedPostgres::start().await.unwrap(),
        OwnedPostgres::start().await.unwrap(),
    ) else {
        eprintln!("skipping: PostgreSQL server binaries (initdb, pg_ctl) not found");
        return;
    };
    assert_ne!(a.port(), b.port());
    let db = connect(&a.url()).await.unwrap();
    db.execute_unprepared("CREATE TABLE only_in_a (id INT)")
        .await
        .unwrap();
    db.close().await.unwrap();
    let db = connect(&b.url()).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT * FROM only_in_a")
            .await
            .is_err()
    );
    db.close().await.unwrap();

    // Dropping stops the server and frees its port.
    let port = a.port();
    drop(a);
    assert!(
        std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).is_err(),
        "port {port} still open after drop"
    );
}

#[tokio::test]
async fn a_failed_restart_reports_the_server_log() {
    let Some(pg) = OwnedPostgres::start().await.unwrap() else {
        eprintln!("skipping: PostgreSQL server binaries (initdb, pg_ctl) not found");
        return;
    };
    pg.stop().await.unwrap();
    // Someone else on the port is the failure a CI run is likeliest to hit.
    let squatter = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, pg.port())).unwrap();
    let error = format!("{:#}", pg.restart().await.unwrap_err());
    assert!(error.contains("could not bind"), "{error}");
    drop(squatter);
    pg.restart().await.unwrap();
}
