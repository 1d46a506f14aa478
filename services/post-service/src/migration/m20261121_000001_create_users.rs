//! Creates `users`.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, migration, table};

migration! {
    /// Creates `users`.
    up(manager) {
        let mut table = table(Users::Table);
        table
            .col(big_integer(Users::Id).primary_key())
            .col(string_len_uniq(Users::Handle, 30))
            .col(string_len(Users::DisplayName, 100))
            .col(big_integer(Users::CreatedAtMs))
            .col(big_integer(Users::FollowerCount).default(0))
            .col(big_integer(Users::FollowingCount).default(0));
        create_table(manager, &mut table).await
    }
    down(manager) {
        drop_table(manager, Users::Table).await
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
