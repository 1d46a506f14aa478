//! Creates `outbox`, the fan-out intents written in the same transaction as their cause.

use sea_orm_migration::{prelude::*, schema::*};

use super::with_table_options;

/// Creates `outbox`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = Table::create()
            .table(Outbox::Table)
            .if_not_exists()
            .col(big_pk_auto(Outbox::Id))
            .col(string_len(Outbox::Kind, 32))
            .col(blob(Outbox::Payload))
            .col(string_len(Outbox::Traceparent, 64).default(""))
            .col(string_len(Outbox::Tracestate, 512).default(""))
            .col(big_integer(Outbox::CreatedAtMs))
            .col(integer(Outbox::Attempts).default(0))
            .col(big_integer(Outbox::AvailableAtMs))
            .col(big_integer_null(Outbox::ClaimedUntilMs))
            .to_owned();
        manager
            .create_table(with_table_options(manager, table))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
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
