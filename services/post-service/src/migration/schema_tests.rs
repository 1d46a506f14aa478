//! The schema a fresh migration creates on SQLite, statement by statement: the migrations are
//! written with shared helpers (`ddl.rs`), and this pins the DDL they produce, so a change to a
//! helper cannot alter a table that existing databases already have.

use sea_orm::{ConnectOptions, ConnectionTrait as _, Database, DbBackend, Statement};
use sea_orm_migration::MigratorTrait as _;

use super::Migrator;

/// `sqlite_master`'s statements after every migration, in creation order (as the database
/// before the helpers made it).
const SQLITE_SCHEMA: &[&str] = &[
    r#"CREATE TABLE "seaql_migrations" ( "version" varchar NOT NULL PRIMARY KEY, "applied_at" integer NOT NULL );"#,
    r#"CREATE TABLE "users" ( "id" integer NOT NULL PRIMARY KEY, "handle" varchar(30) NOT NULL UNIQUE, "display_name" varchar(100) NOT NULL, "created_at_ms" integer NOT NULL, "follower_count" integer NOT NULL DEFAULT 0, "following_count" integer NOT NULL DEFAULT 0 , "subject" varchar(255) NULL);"#,
    r#"CREATE TABLE "follows" ( "followee_id" integer NOT NULL, "follower_id" integer NOT NULL, "created_at_ms" integer NOT NULL, PRIMARY KEY ("followee_id", "follower_id"), FOREIGN KEY ("followee_id") REFERENCES "users" ("id"), FOREIGN KEY ("follower_id") REFERENCES "users" ("id") );"#,
    r#"CREATE INDEX "idx_follows_follower_followee" ON "follows" ("follower_id", "followee_id");"#,
    r#"CREATE TABLE "posts" ( "id" integer NOT NULL PRIMARY KEY, "author_id" integer NOT NULL, "body" text NOT NULL, "created_at_ms" integer NOT NULL, "deleted_at_ms" integer NULL, "idempotency_key" varchar(128) NULL, FOREIGN KEY ("author_id") REFERENCES "users" ("id") );"#,
    r#"CREATE UNIQUE INDEX "uq_posts_author_idempotency_key" ON "posts" ("author_id", "idempotency_key");"#,
    r#"CREATE INDEX "idx_posts_author_id" ON "posts" ("author_id", "id");"#,
    r#"CREATE TABLE "outbox" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "kind" varchar(32) NOT NULL, "payload" blob NOT NULL, "traceparent" varchar(64) NOT NULL DEFAULT '', "tracestate" varchar(512) NOT NULL DEFAULT '', "created_at_ms" integer NOT NULL, "attempts" integer NOT NULL DEFAULT 0, "available_at_ms" integer NOT NULL, "claimed_until_ms" integer NULL , "ordering_key" integer NULL);"#,
    r#"CREATE TABLE sqlite_sequence(name,seq);"#,
    r#"CREATE UNIQUE INDEX "users_subject_key" ON "users" ("subject");"#,
    r#"CREATE TABLE "outbox_applied" ( "id" integer NOT NULL PRIMARY KEY, "kind" varchar(32) NOT NULL, "payload" blob NOT NULL, "created_at_ms" integer NOT NULL, "applied_at_ms" integer NOT NULL );"#,
    r#"CREATE TABLE "node_leases" ( "node_id" integer NOT NULL PRIMARY KEY, "holder" text NOT NULL, "expires_at_ms" integer NOT NULL, "high_water_ms" integer NOT NULL );"#,
    r#"CREATE TABLE "outbox_dead" ( "id" integer NOT NULL PRIMARY KEY, "kind" varchar(32) NOT NULL, "payload" blob NOT NULL, "traceparent" varchar(64) NOT NULL DEFAULT '', "tracestate" varchar(512) NOT NULL DEFAULT '', "created_at_ms" integer NOT NULL, "attempts" integer NOT NULL, "error" text NOT NULL, "dead_at_ms" integer NOT NULL , "ordering_key" integer NULL);"#,
    r#"CREATE INDEX "idx_outbox_attempts_ordering_key" ON "outbox" ("attempts", "ordering_key");"#,
    r#"CREATE TABLE "relay_leases" ( "id" integer NOT NULL PRIMARY KEY, "holder" text NOT NULL, "expires_at_ms" integer NOT NULL );"#,
];

#[tokio::test]
async fn a_fresh_sqlite_database_gets_exactly_the_pinned_schema() {
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1);
    let db = Database::connect(options).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid",
        ))
        .await
        .unwrap();
    let schema: Vec<String> = rows
        .iter()
        .map(|row| format!("{};", row.try_get_by_index::<String>(0).unwrap()))
        .collect();
    assert_eq!(schema, SQLITE_SCHEMA);
}
