//! Creates `node_leases`: which replica holds which node id of the id generator, and each node
//! id's high-water mark. The table's definition is the kit's (`ids::lease`), shared with
//! log-ingest-service; with both services on one database, both see one table.

use feedline_service_kit::ids::lease::{create_table, drop_table};
use sea_orm_migration::prelude::*;

use super::with_table_options;

/// Creates `node_leases`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(with_table_options(manager, create_table()))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop_table()).await
    }
}
