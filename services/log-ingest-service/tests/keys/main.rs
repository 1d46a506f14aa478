//! App keys over real gRPC, on SQLite, PostgreSQL and MySQL/MariaDB: rotation, revocation (seen
//! by a second replica within its cache TTL, and by an open stream), listing without secrets,
//! the admin check of every admin RPC, and keys issued before the key table.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

#[path = "../common/mod.rs"]
mod common;

use feedline_proto::logs::v1::{CreateAppRequest, ListAppKeysRequest, RevokeAppKeyRequest};
use feedline_test_harness::{Backend, TestDatabase};
use log_ingest_service::pipeline::FaultPlan;
use tonic::Code;

use common::{TestServer, admin_calls};

feedline_test_harness::on_every_backend!(
    rotation_issues_a_new_key_and_keeps_the_old_until_revoked,
    listed_keys_show_ids_and_times_never_secrets,
    key_rpcs_validate_and_answer_not_found,
    admin_rpcs_need_the_admin_token,
    a_key_revoked_through_one_replica_is_refused_by_another_within_the_ttl,
    an_open_stream_ends_once_its_key_is_revoked,
);

mod cases;

/// With bearer tokens off and no FEEDLINE_ADMIN_TOKEN, nobody is an admin: every admin RPC is
/// refused, and says how to enable them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_rpcs_are_refused_when_no_admin_credential_is_configured() {
    let unset = [("FEEDLINE_ADMIN_TOKEN", "")];
    let s = TestServer::start_with(Backend::Sqlite, &unset, FaultPlan::default())
        .await
        .expect("sqlite");
    let mut calls = admin_calls(&s.client, Some(common::ADMIN_TOKEN), 1, 1).await;
    let create = s
        .client
        .clone()
        .create_app(CreateAppRequest {
            name: "open".into(),
        })
        .await
        .unwrap_err();
    calls.push(("CreateApp without a token", create));
    for (rpc, status) in calls {
        assert_eq!(status.code(), Code::PermissionDenied, "{rpc}");
        let message = status.message();
        assert!(
            message.contains("FEEDLINE_ADMIN_TOKEN") && message.contains("FEEDLINE_AUTH_JWKS"),
            "{rpc}: {message}"
        );
    }
    s.stop().await;
}

/// Keys issued before the key table (one per app, in `apps.key_hash`) keep working after the
/// migration, can be listed and revoked; and the migration can be undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_issued_before_the_key_table_keep_working() {
    use log_ingest_service::apps::secret::hash_key;
    use log_ingest_service::migration::Migrator;
    use sea_orm::{ConnectionTrait as _, Database};
    use sea_orm_migration::MigratorTrait as _;

    let legacy = "flk_issued-before-the-key-table";
    let send_legacy = |server: &common::RunningService, message: &str| {
        let request = feedline_proto::logs::v1::IngestRequest {
            records: vec![common::record(message, "")],
        };
        let mut client = server.client.clone();
        async move { client.ingest(common::with_key(legacy, request)).await }
    };
    for backend in Backend::ALL {
        let Some(database) = TestDatabase::create(backend).await.unwrap() else {
            eprintln!("skipped: {} backend not enabled", backend.name());
            continue;
        };
        let db = Database::connect(database.url()).await.unwrap();
        Migrator::up(&db, Some(2)).await.unwrap();
        let insert = format!(
            "INSERT INTO apps (id, name, key_hash, create_unix_nano) \
             VALUES (42, 'legacy', '{}', 1700000000000000000)",
            hash_key(legacy)
        );
        db.execute_unprepared(&insert).await.unwrap();

        // The service applies the rest at start.
        let server = common::RunningService::start(database.url(), &[]).await;
        let answer = server
            .client
            .clone()
            .list_app_keys(common::as_admin(ListAppKeysRequest {
                app_id: 42,
                app_name: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<_> = answer.keys.iter().map(|k| k.key_id).collect();
        assert_eq!(ids, [42], "{backend:?}: the legacy key, with the app's id");
        let sent = send_legacy(&server, "legacy").await;
        assert!(sent.is_ok(), "{backend:?}: {sent:?}");
        server.stop().await;

        // Down past `node_leases` and `app_keys`: the app's valid key goes back to `apps`.
        Migrator::down(&db, Some(2)).await.unwrap();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT key_hash FROM apps WHERE id = 42",
            ))
            .await
            .unwrap()
            .unwrap();
        let restored: Option<String> = row.try_get_by_index(0).unwrap();
        assert_eq!(restored, Some(hash_key(legacy)), "{backend:?}");

        // Up again, and revoke: refused.
        let server = common::RunningService::start(database.url(), &[]).await;
        let revoked = server
            .client
            .clone()
            .revoke_app_key(common::as_admin(RevokeAppKeyRequest { key_id: 42 }))
            .await;
        assert!(revoked.is_ok(), "{backend:?}: {revoked:?}");
        let refused = send_legacy(&server, "refused").await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{backend:?}");
        server.stop().await;
        db.close().await.unwrap();
    }
}
