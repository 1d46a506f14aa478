//! Creates `posts`, with the per-author idempotency key and the per-author listing index.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, foreign_key, index, migration, table};
use super::m20261121_000001_create_users::Users;

migration! {
    /// Creates `posts`.
    up(manager) {
        let mut table = table(Posts::Table);
        table
            .col(big_integer(Posts::Id).primary_key())
            .col(big_integer(Posts::AuthorId))
            .col(text(Posts::Body))
            .col(big_integer(Posts::CreatedAtMs))
            .col(big_integer_null(Posts::DeletedAtMs))
            .col(string_len_null(Posts::IdempotencyKey, 128))
            .foreign_key(&mut foreign_key(
                "fk_posts_author",
                (Posts::Table, Posts::AuthorId),
                (Users::Table, Users::Id),
            ));
        create_table(manager, &mut table).await?;
        // NULL keys never collide, on every backend: posts without a key are not de-duplicated.
        let columns = [Posts::AuthorId, Posts::IdempotencyKey];
        let mut idempotency = index("uq_posts_author_idempotency_key", Posts::Table, columns);
        manager
            .create_index(idempotency.if_not_exists().unique().to_owned())
            .await?;
        let columns = [Posts::AuthorId, Posts::Id];
        let mut by_author = index("idx_posts_author_id", Posts::Table, columns);
        manager
            .create_index(by_author.if_not_exists().to_owned())
            .await
    }
    down(manager) {
        drop_table(manager, Posts::Table).await
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
