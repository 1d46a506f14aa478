//! `log_records`: written in bulk, read per app by time range.
//!
//! - `id` is the service-assigned, time-ordered primary key: a batch retried after an unknown
//!   outcome conflicts on it instead of storing a record twice, and InnoDB appends in key order.
//! - `(app_id, time_unix_nano, id)` serves QueryLogs' newest-first pages and its cursor.
//! - `(app_id, client_record_id)` is unique, so a client's retry stores nothing twice; NULL
//!   (no client id) never conflicts on any of the three databases.
//! - Times are Unix nanoseconds in BIGINT: exact, the same on every backend, and what OTLP uses.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::execute_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::MySql => {
                // MEDIUMTEXT: attributes may exceed TEXT's 64 KiB.
                "CREATE TABLE log_records (
                    id BIGINT NOT NULL PRIMARY KEY,
                    app_id BIGINT NOT NULL,
                    time_unix_nano BIGINT NOT NULL,
                    level SMALLINT NOT NULL,
                    service VARCHAR(128) NOT NULL,
                    message MEDIUMTEXT NOT NULL,
                    attributes MEDIUMTEXT NOT NULL,
                    trace_id CHAR(32) NULL,
                    client_record_id VARCHAR(128) NULL,
                    receive_unix_nano BIGINT NOT NULL,
                    KEY log_records_app_time (app_id, time_unix_nano, id),
                    UNIQUE KEY log_records_app_client_id (app_id, client_record_id)
                ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            }
            _ => {
                "CREATE TABLE log_records (
                    id BIGINT NOT NULL PRIMARY KEY,
                    app_id BIGINT NOT NULL,
                    time_unix_nano BIGINT NOT NULL,
                    level SMALLINT NOT NULL,
                    service VARCHAR(128) NOT NULL,
                    message TEXT NOT NULL,
                    attributes TEXT NOT NULL,
                    trace_id CHAR(32) NULL,
                    client_record_id VARCHAR(128) NULL,
                    receive_unix_nano BIGINT NOT NULL
                );
                CREATE INDEX log_records_app_time ON log_records (app_id, time_unix_nano, id);
                CREATE UNIQUE INDEX log_records_app_client_id
                    ON log_records (app_id, client_record_id)"
            }
        };
        execute_all(manager, sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, "DROP TABLE log_records").await
    }
}
