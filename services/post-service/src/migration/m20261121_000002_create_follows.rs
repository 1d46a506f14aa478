//! Creates `follows`, keyed for "followers of X" with a second index for "whom X follows".

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, foreign_key, index, migration, table};
use super::m20261121_000001_create_users::Users;

migration! {
    /// Creates `follows`.
    up(manager) {
        let mut table = table(Follows::Table);
        table
            .col(big_integer(Follows::FolloweeId))
            .col(big_integer(Follows::FollowerId))
            .col(big_integer(Follows::CreatedAtMs))
            .primary_key(
                Index::create()
                    .col(Follows::FolloweeId)
                    .col(Follows::FollowerId),
            )
            .foreign_key(&mut foreign_key(
                "fk_follows_followee",
                (Follows::Table, Follows::FolloweeId),
                (Users::Table, Users::Id),
            ))
            .foreign_key(&mut foreign_key(
                "fk_follows_follower",
                (Follows::Table, Follows::FollowerId),
                (Users::Table, Users::Id),
            ));
        create_table(manager, &mut table).await?;
        let columns = [Follows::FollowerId, Follows::FolloweeId];
        let mut by_follower = index("idx_follows_follower_followee", Follows::Table, columns);
        manager
            .create_index(by_follower.if_not_exists().to_owned())
            .await
    }
    down(manager) {
        drop_table(manager, Follows::Table).await
    }
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FolloweeId,
    FollowerId,
    CreatedAtMs,
}
