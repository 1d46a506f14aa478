//! Creates `posts`, with the per-author idempotency key and the per-author listing index.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261121_000001_create_users::Users;
use super::with_table_options;

/// Creates `posts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Posts::Table)
            .if_not_exists()
            .col(big_integer(Posts::Id).primary_key())
            .col(big_integer(Posts::AuthorId))
            .col(text(Posts::Body))
            .col(big_integer(Posts::CreatedAtMs))
            .col(big_integer_null(Posts::DeletedAtMs))
            .col(string_len_null(Posts::IdempotencyKey, 128))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_posts_author")
                    .from(Posts::Table, Posts::AuthorId)
                    .to(Users::Table, Users::Id),
            )
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await?;
        // NULL keys never collide, on every backend: posts without a key are not de-duplicated.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("uq_posts_author_idempotency_key")
                    .table(Posts::Table)
                    .col(Posts::AuthorId)
                    .col(Posts::IdempotencyKey)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_posts_author_id")
                    .table(Posts::Table)
                    .col(Posts::AuthorId)
                    .col(Posts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Posts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    AuthorId,
    Body,
    CreatedAtMs,
    DeletedAtMs,
    IdempotencyKey,
}
