//! Creates `node_leases`: which replica holds which node id of the id generator, and each node
//! id's high-water mark. Unlike this service's other tables it comes from the schema builder:
//! the definition is the kit's (`ids::lease`), one for every service, and with post-service on
//! the same database both see one table.

use feedline_service_kit::ids::lease::{create_table, drop_table};
use sea_orm_migration::prelude::*;

/// Creates `node_leases`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(create_table()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(drop_table()).await
    }
}
