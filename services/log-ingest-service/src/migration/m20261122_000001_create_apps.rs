//! `apps`: who may send logs; a key is stored only as its SHA-256, so a leaked table leaks no key.

use sea_orm_migration::prelude::*;

use super::ddl::{TableIndex, create_table, execute_all};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = "id BIGINT NOT NULL PRIMARY KEY,
            name VARCHAR(64) NOT NULL,
            key_hash CHAR(64) NOT NULL,
            create_unix_nano BIGINT NOT NULL";
        let indexes = [
            TableIndex::unique("name", "name"),
            TableIndex::unique("key_hash", "key_hash"),
        ];
        let sql = create_table(manager.get_database_backend(), "apps", columns, &indexes);
        execute_all(manager, &sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, "DROP TABLE apps").await
    }
}
