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

use super::ddl::{TableIndex, create_table, execute_all};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = create_log_records(manager.get_database_backend(), "log_records");
        execute_all(manager, &sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, "DROP TABLE log_records").await
    }
}

/// The SQL that creates a table `table` with `log_records`' columns and indexes on `backend`
/// (`;`-separated statements). Public for the benchmark's raw baselines, which write the same
/// rows into tables of this exact shape, so they do the same write work as the service.
pub fn create_log_records(backend: DbBackend, table: &str) -> String {
    // MEDIUMTEXT on MySQL: attributes may exceed TEXT's 64 KiB.
    let text = if backend == DbBackend::MySql {
        "MEDIUMTEXT"
    } else {
        "TEXT"
    };
    let columns = format!(
        "id BIGINT NOT NULL PRIMARY KEY,
        app_id BIGINT NOT NULL,
        time_unix_nano BIGINT NOT NULL,
        level SMALLINT NOT NULL,
        service VARCHAR(128) NOT NULL,
        message {text} NOT NULL,
        attributes {text} NOT NULL,
        trace_id CHAR(32) NULL,
        client_record_id VARCHAR(128) NULL,
        receive_unix_nano BIGINT NOT NULL"
    );
    let indexes = [
        TableIndex::plain("app_time", "app_id, time_unix_nano, id"),
        TableIndex::unique("app_client_id", "app_id, client_record_id"),
    ];
    create_table(backend, table, &columns, &indexes)
}
