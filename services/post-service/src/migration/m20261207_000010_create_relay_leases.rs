//! Creates `relay_leases`: one row naming the post-service replica that relays the outbox now
//! (the relay leader) and until when. Seeded free, so taking the lease is a conditional UPDATE
//! on every backend.

use sea_orm_migration::prelude::*;

use super::with_table_options;

/// Creates `relay_leases` and its one row.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(RelayLeases::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(RelayLeases::Id)
                    .integer()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(RelayLeases::Holder).text().not_null())
            .col(
                ColumnDef::new(RelayLeases::ExpiresAtMs)
                    .big_integer()
                    .not_null(),
            )
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await?;
        let seed = Query::insert()
            .into_table(RelayLeases::Table)
            .columns([
                RelayLeases::Id,
                RelayLeases::Holder,
                RelayLeases::ExpiresAtMs,
            ])
            .values_panic([1.into(), "".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RelayLeases::Table).to_owned())
            .await
    }
}

/// `relay_leases` and its columns, shared with the store's lease statements.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RelayLeases {
    /// `relay_leases`.
    Table,
    /// Always 1: the one lease.
    Id,
    /// Who holds it: a token unique to one process ('' when never taken).
    Holder,
    /// Until when, Unix ms by the holder's clock; 0 when released.
    ExpiresAtMs,
}
