//! `apps`: who may send logs; a key is stored only as its SHA-256, so a leaked table leaks no key.

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
                "CREATE TABLE apps (
                    id BIGINT NOT NULL PRIMARY KEY,
                    name VARCHAR(64) NOT NULL,
                    key_hash CHAR(64) NOT NULL,
                    create_unix_nano BIGINT NOT NULL,
                    UNIQUE KEY apps_name (name),
                    UNIQUE KEY apps_key_hash (key_hash)
                ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            }
            _ => {
                "CREATE TABLE apps (
                    id BIGINT NOT NULL PRIMARY KEY,
                    name VARCHAR(64) NOT NULL,
                    key_hash CHAR(64) NOT NULL,
                    create_unix_nano BIGINT NOT NULL
                );
                CREATE UNIQUE INDEX apps_name ON apps (name);
                CREATE UNIQUE INDEX apps_key_hash ON apps (key_hash)"
            }
        };
        execute_all(manager, sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, "DROP TABLE apps").await
    }
}
