//! Creates `outbox_dead`: fan-out events the relay gave up on (fanout-service rejected them, they
//! failed `FEEDLINE_RELAY_MAX_ATTEMPTS` times, or their payload does not decode), with the last
//! error, until an operator requeues them. Rows parked in `outbox` by earlier versions move here.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, migration, table, trace_columns};
use super::m20261121_000004_create_outbox::Outbox;

/// `available_at_ms` of a row parked by earlier versions (before dead letters existed).
const PARKED: i64 = i64::MAX;

migration! {
    /// Creates `outbox_dead` and moves the parked rows of `outbox` into it.
    up(manager) {
        // No index but the key: the table is small (an operator empties it) and listed by id.
        let mut table = table(OutboxDead::Table);
        table
            .col(big_integer(OutboxDead::Id).primary_key())
            .col(string_len(OutboxDead::Kind, 32))
            .col(blob(OutboxDead::Payload));
        trace_columns(&mut table, OutboxDead::Traceparent, OutboxDead::Tracestate)
            .col(big_integer(OutboxDead::CreatedAtMs))
            .col(integer(OutboxDead::Attempts))
            .col(text(OutboxDead::Error))
            .col(big_integer(OutboxDead::DeadAtMs));
        create_table(manager, &mut table).await?;
        let parked = Query::select()
            .columns([
                Outbox::Id,
                Outbox::Kind,
                Outbox::Payload,
                Outbox::Traceparent,
                Outbox::Tracestate,
                Outbox::CreatedAtMs,
                Outbox::Attempts,
            ])
            .expr(Expr::value(
                "rejected by fanout-service (parked before dead letters existed)",
            ))
            .expr(Expr::col(Outbox::CreatedAtMs))
            .from(Outbox::Table)
            .and_where(Expr::col(Outbox::AvailableAtMs).eq(PARKED))
            .to_owned();
        let insert = Query::insert()
            .into_table(OutboxDead::Table)
            .columns(OutboxDead::COLUMNS)
            .select_from(parked)
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        manager.exec_stmt(insert).await?;
        let delete = Query::delete()
            .from_table(Outbox::Table)
            .and_where(Expr::col(Outbox::AvailableAtMs).eq(PARKED))
            .to_owned();
        manager.exec_stmt(delete).await
    }
    down(manager) {
        drop_table(manager, OutboxDead::Table).await
    }
}

/// The table and its columns, shared with the store's queries.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum OutboxDead {
    /// `outbox_dead`.
    Table,
    /// The outbox id the event had (its event id).
    Id,
    /// The event kind, for operators.
    Kind,
    /// The encoded `FanoutEvent`, as in `outbox`.
    Payload,
    /// W3C traceparent of the request that wrote the event.
    Traceparent,
    /// W3C tracestate accompanying it.
    Tracestate,
    /// Commit time, Unix ms.
    CreatedAtMs,
    /// Failed attempts (RETRY and REJECTED answers, unreadable payloads) before it was given up.
    Attempts,
    /// The last error: fanout-service's answer, or why the payload does not decode.
    Error,
    /// When it was given up, Unix ms.
    DeadAtMs,
}

impl OutboxDead {
    /// Every column but the table, in the order the store writes and reads them.
    pub(crate) const COLUMNS: [OutboxDead; 9] = [
        OutboxDead::Id,
        OutboxDead::Kind,
        OutboxDead::Payload,
        OutboxDead::Traceparent,
        OutboxDead::Tracestate,
        OutboxDead::CreatedAtMs,
        OutboxDead::Attempts,
        OutboxDead::Error,
        OutboxDead::DeadAtMs,
    ];
}
