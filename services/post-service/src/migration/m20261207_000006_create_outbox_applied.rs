//! Creates `outbox_applied`: outbox events fanout-service acknowledged, kept for the retention
//! window (`FEEDLINE_OUTBOX_RETENTION_MIN`) so that they can be replayed after Redis lost writes.

use sea_orm_migration::{prelude::*, schema::*};

use super::with_table_options;

/// Creates `outbox_applied`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No index but the key: replays read in id order, and pruning walks the key from the
        // front, where the oldest rows are (ids are applied in nearly ascending order).
        let table = Table::create()
            .table(OutboxApplied::Table)
            .if_not_exists()
            .col(big_integer(OutboxApplied::Id).primary_key())
            .col(string_len(OutboxApplied::Kind, 32))
            .col(blob(OutboxApplied::Payload))
            .col(big_integer(OutboxApplied::CreatedAtMs))
            .col(big_integer(OutboxApplied::AppliedAtMs))
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxApplied::Table).to_owned())
            .await
    }
}

/// The table and its columns, shared with the store's queries.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum OutboxApplied {
    /// `outbox_applied`.
    Table,
    /// The outbox id the event had (its event id).
    Id,
    /// The event kind, for operators.
    Kind,
    /// The encoded `FanoutEvent`, as in `outbox`.
    Payload,
    /// Commit time, Unix ms.
    CreatedAtMs,
    /// When fanout-service acknowledged it, Unix ms: pruning and `since` look at this.
    AppliedAtMs,
}
