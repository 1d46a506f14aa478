//! `app_keys`: several keys per app, each revocable; the key of every existing app moves here
//! (its id becomes the app's id), so keys issued before keep working.
//!
//! - `key_hash` is unique: a key names exactly one row, found on every cache miss.
//! - `revoke_unix_nano` is NULL while the key is valid; revocation is final.
//! - `(app_id, id)` serves ListAppKeys, oldest first.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::ddl::{TableIndex, create_table, execute_all};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Copies each app's key, then drops the column: from here on only `app_keys` holds keys.
const MOVE_KEYS: &str = "INSERT INTO app_keys (id, app_id, key_hash, create_unix_nano)
        SELECT id, id, key_hash, create_unix_nano FROM apps";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let columns = "id BIGINT NOT NULL PRIMARY KEY,
            app_id BIGINT NOT NULL,
            key_hash CHAR(64) NOT NULL,
            create_unix_nano BIGINT NOT NULL,
            revoke_unix_nano BIGINT NULL";
        let indexes = [
            TableIndex::unique("key_hash", "key_hash"),
            TableIndex::plain("app", "app_id, id"),
        ];
        let create = create_table(backend, "app_keys", columns, &indexes);
        let drop_column = match backend {
            DbBackend::MySql => "ALTER TABLE apps DROP INDEX apps_key_hash, DROP COLUMN key_hash",
            // SQLite drops a column only once no index uses it.
            _ => "DROP INDEX apps_key_hash; ALTER TABLE apps DROP COLUMN key_hash",
        };
        execute_all(manager, &create).await?;
        execute_all(manager, MOVE_KEYS).await?;
        execute_all(manager, drop_column).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to one key per app: its oldest valid one. An app with none gets NULL, which no
        // key matches (the column stays nullable for that).
        let restore = "ALTER TABLE apps ADD COLUMN key_hash CHAR(64) NULL;
            UPDATE apps SET key_hash = (SELECT k.key_hash FROM app_keys k
                WHERE k.app_id = apps.id AND k.revoke_unix_nano IS NULL
                ORDER BY k.id LIMIT 1);
            CREATE UNIQUE INDEX apps_key_hash ON apps (key_hash);
            DROP TABLE app_keys";
        execute_all(manager, restore).await
    }
}
