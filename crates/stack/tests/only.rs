//! `start_only`: a service alone, as its own package's tests start it: no cluster and no other
//! service unless asked for, on the database backend the test names (fresh, and deleted at the
//! stop) or on a database the test owns (kept).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use feedline_proto::logs::v1::CreateAppRequest;
use feedline_proto::logs::v1::log_service_client::LogServiceClient;
use feedline_stack::{Service, Stack};
use feedline_test_harness::{Backend, Social, TestDatabase};
use sea_orm::{ConnectionTrait as _, Database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_alone_runs_on_each_backend_without_a_cluster() {
    for backend in Backend::ALL {
        if !backend.enabled() {
            eprintln!("skipped: {} backend not enabled", backend.name());
            continue;
        }
        let services = Stack::builder()
            .database(Service::Post, backend)
            .start_only(&[Service::Post])
            .await
            .unwrap();
        assert!(services.cluster.is_none(), "{backend:?}: no cluster");
        assert!(services.fanout.is_none() && services.feed.is_none() && services.logs.is_none());
        let url = services.database_url(Service::Post).unwrap().to_owned();
        let scheme = match backend {
            Backend::Sqlite => "sqlite:",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql:",
        };
        assert!(url.starts_with(scheme), "{backend:?}: {url}");

        let post = services.post.as_ref().unwrap();
        let social = Social::new(post.channel().await.unwrap());
        let alice = social.user("alice").await;
        let db = Database::connect(&url).await.unwrap();
        let sql = format!("SELECT handle FROM users WHERE id = {alice}");
        let row = db.query_one_raw(statement(&db, &sql)).await.unwrap();
        let handle: String = row.unwrap().try_get_by_index(0).unwrap();
        assert_eq!(
            handle, "alice",
            "{backend:?}: written to the stack's database"
        );
        db.close().await.unwrap();
        services.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_ingest_alone_runs_on_a_database_the_test_owns_and_keeps_it() {
    let database = TestDatabase::sqlite().await.unwrap();
    let services = Stack::builder()
        .database_url(Service::Logs, database.url())
        .env(Service::Logs, &[("FEEDLINE_ADMIN_TOKEN", "admin")])
        .start_only(&[Service::Logs])
        .await
        .unwrap();
    assert!(services.cluster.is_none() && services.post.is_none());
    assert_eq!(services.database_url(Service::Logs), Some(database.url()));
    let logs = services.logs.as_ref().unwrap();
    let mut client = LogServiceClient::new(logs.channel().await.unwrap());
    let mut request = tonic::Request::new(CreateAppRequest {
        name: "kept".into(),
    });
    let token = "admin".parse().unwrap();
    request.metadata_mut().insert("x-admin-token", token);
    client.create_app(request).await.unwrap();
    services.stop().await.unwrap();

    // The stop left the test's database alone: the app is still there.
    let db = Database::connect(database.url()).await.unwrap();
    let sql = "SELECT COUNT(*) FROM apps WHERE name = 'kept'";
    let row = db.query_one_raw(statement(&db, sql)).await.unwrap();
    let count: i64 = row.unwrap().try_get_by_index(0).unwrap();
    assert_eq!(count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_started_when_asked_for_or_needed() {
    let services = Stack::builder()
        .cluster()
        .start_only(&[Service::Post])
        .await
        .unwrap();
    assert!(services.cluster.is_some() && services.fanout.is_none());
    services.stop().await.unwrap();
    let services = Stack::builder()
        .start_only(&[Service::Fanout])
        .await
        .unwrap();
    assert!(services.cluster.is_some() && services.post.is_none());
    services.stop().await.unwrap();
}

/// `sql` as a statement of `db`'s backend.
fn statement(db: &sea_orm::DatabaseConnection, sql: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(db.get_database_backend(), sql)
}
