//! Creates `users`.

use sea_orm_migration::{prelude::*, schema::*};

use super::with_table_options;

/// Creates `users`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Users::Table)
            .if_not_exists()
            .col(big_integer(Users::Id).primary_key())
            .col(string_len_uniq(Users::Handle, 30))
            .col(string_len(Users::DisplayName, 100))
            .col(big_integer(Users::CreatedAtMs))
            .col(big_integer(Users::FollowerCount).default(0))
            .col(big_integer(Users::FollowingCount).default(0))
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Handle,
    DisplayName,
    CreatedAtMs,
    FollowerCount,
    FollowingCount,
}
