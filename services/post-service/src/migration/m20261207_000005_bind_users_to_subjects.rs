//! Adds `users.subject`: the token subject a user is bound to (unique; NULL for none).

use sea_orm_migration::prelude::*;

use super::ddl::{index, migration};
use super::m20261121_000001_create_users::Users;

/// The unique index on `users.subject` (several NULLs are allowed on every backend).
const INDEX: &str = "users_subject_key";

migration! {
    /// Adds `users.subject` and its unique index.
    up(manager) {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Subject::Subject).string_len(255).null())
                    .to_owned(),
            )
            .await?;
        let mut subject = index(INDEX, Users::Table, [Subject::Subject]);
        manager.create_index(subject.unique().to_owned()).await
    }
    down(manager) {
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
