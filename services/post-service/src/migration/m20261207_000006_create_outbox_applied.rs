//! Creates `outbox_applied`: outbox events fanout-service acknowledged, kept for the retention
//! window (`FEEDLINE_OUTBOX_RETENTION_MIN`) so that they can be replayed after Redis lost writes.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, migration, table};

migration! {
    /// Creates `outbox_applied`.
    up(manager) {
        // No index but the key: replays read in id order, and pruning walks the key from the
        // front, where the oldest rows are (ids are applied in nearly ascending order).
        let mut table = table(OutboxApplied::Table);
        table
            .col(big_integer(OutboxApplied::Id).primary_key())
            .col(string_len(OutboxApplied::Kind, 32))
            .col(blob(OutboxApplied::Payload))
            .col(big_integer(OutboxApplied::CreatedAtMs))
            .col(big_integer(OutboxApplied::AppliedAtMs));
        create_table(manager, &mut table).await
    }
    down(manager) {
        drop_table(manager, OutboxApplied::Table).await
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
