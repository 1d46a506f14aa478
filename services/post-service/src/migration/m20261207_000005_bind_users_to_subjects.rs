//! Adds `users.subject`: the token subject a user is bound to (unique; NULL for none).

use sea_orm_migration::prelude::*;

use super::m20261121_000001_create_users::Users;

/// The unique index on `users.subject` (several NULLs are allowed on every backend).
const INDEX: &str = "users_subject_key";

/// Adds `users.subject` and its unique index.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Subject::Subject).string_len(255).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Subject::Subject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Subject::Subject)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Subject {
    Subject,
}
