//! Creates `follows`, keyed for "followers of X" with a second index for "whom X follows".

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261121_000001_create_users::Users;
use super::with_table_options;

/// Creates `follows`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Follows::Table)
            .if_not_exists()
            .col(big_integer(Follows::FolloweeId))
            .col(big_integer(Follows::FollowerId))
            .col(big_integer(Follows::CreatedAtMs))
            .primary_key(
                Index::create()
                    .col(Follows::FolloweeId)
                    .col(Follows::FollowerId),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_follows_followee")
                    .from(Follows::Table, Follows::FolloweeId)
                    .to(Users::Table, Users::Id),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_follows_follower")
                    .from(Follows::Table, Follows::FollowerId)
                    .to(Users::Table, Users::Id),
            )
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_follows_follower_followee")
                    .table(Follows::Table)
                    .col(Follows::FollowerId)
                    .col(Follows::FolloweeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Follows::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FolloweeId,
    FollowerId,
    CreatedAtMs,
}
