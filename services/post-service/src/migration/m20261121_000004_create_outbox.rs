//! Creates `outbox`, the fan-out intents written in the same transaction as their cause.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, migration, table, trace_columns};

migration! {
    /// Creates `outbox`.
    up(manager) {
        let mut table = table(Outbox::Table);
        table
            .col(big_pk_auto(Outbox::Id))
            .col(string_len(Outbox::Kind, 32))
            .col(blob(Outbox::Payload));
        trace_columns(&mut table, Outbox::Traceparent, Outbox::Tracestate)
            .col(big_integer(Outbox::CreatedAtMs))
            .col(integer(Outbox::Attempts).default(0))
            .col(big_integer(Outbox::AvailableAtMs))
            .col(big_integer_null(Outbox::ClaimedUntilMs));
        create_table(manager, &mut table).await
    }
    down(manager) {
        drop_table(manager, Outbox::Table).await
    }
}

/// `outbox` and its columns, shared with the later migrations that read or alter it.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Outbox {
    Table,
    Id,
    Kind,
    Payload,
    Traceparent,
    Tracestate,
    CreatedAtMs,
    Attempts,
    AvailableAtMs,
    ClaimedUntilMs,
}
