//! Adds `ordering_key` (a post's author, a follow's followee) to `outbox` and `outbox_dead`, and
//! an index on `outbox (attempts, ordering_key)`: admission control skips the events held behind
//! a failing one of their key, which it finds through that index (the failing rows are few, the
//! backlog may be hundreds of thousands). Rows already written keep NULL: never held.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{index, migration};
use super::m20261121_000004_create_outbox::Outbox;
use super::m20261207_000008_create_outbox_dead::OutboxDead;

/// The index admission control's front query uses.
const INDEX: &str = "idx_outbox_attempts_ordering_key";

migration! {
    /// Adds the column to both tables, and the index.
    up(manager) {
        // One column per ALTER TABLE: SQLite takes no more.
        for table in [Outbox::Table.into_iden(), OutboxDead::Table.into_iden()] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer_null(Added::OrderingKey))
                        .to_owned(),
                )
                .await?;
        }
        let columns = [Outbox::Attempts.into_iden(), Added::OrderingKey.into_iden()];
        manager
            .create_index(index(INDEX, Outbox::Table, columns))
            .await
    }
    down(manager) {
        manager
            .drop_index(Index::drop().name(INDEX).table(Outbox::Table).to_owned())
            .await?;
        for table in [Outbox::Table.into_iden(), OutboxDead::Table.into_iden()] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Added::OrderingKey)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// The column this migration adds, shared with the store's queries on `outbox_dead`.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Added {
    /// `ordering_key`: the event's ordering key, NULL on rows written before it existed.
    OrderingKey,
}
