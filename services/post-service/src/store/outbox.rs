//! The outbox: fan-out intents appended inside the writer's transaction, then claimed, sent and
//! retired by the relay once fanout-service acknowledges them: deleted, or moved to
//! `outbox_applied` for the retention window, from where a replay re-sends them.
//!
//! - `append` (here): one event, encoded once ([`OutboxPayload`]), in the writer's transaction.
//! - `claim`: rows claimed to send, and released (retry backoff, broken stream, new leader).
//! - `applied`: acknowledged rows retired, the retained window and its replay pages.
//! - `front`: the front and backlog that admission control measures.
//! - `lease`: the relay leader lease.

mod applied;
mod claim;
mod front;
mod lease;

use feedline_proto::fanout::v1::OutboxPayload;
use feedline_proto::fanout::v1::fanout_event::Kind;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait as _};

pub use applied::AppliedEvent;
pub use front::OutboxFront;

use crate::entity::outbox;

/// Appends one event for `kind`, stamped with the current trace context so that the
/// asynchronous fan-out continues the trace of the request that caused it. Its payload is
/// encoded here, once: the relay sends these bytes as they are.
pub(crate) async fn append(
    txn: &impl ConnectionTrait,
    kind: Kind,
    now_ms: i64,
) -> Result<(), DbErr> {
    let payload = OutboxPayload::encode(kind);
    let trace = feedline_telemetry::current_trace_context();
    outbox::Entity::insert(outbox::ActiveModel {
        id: NotSet,
        kind: Set(payload.kind.label().to_owned()),
        payload: Set(payload.bytes),
        traceparent: Set(trace.traceparent),
        tracestate: Set(trace.tracestate),
        created_at_ms: Set(now_ms),
        attempts: Set(0),
        available_at_ms: Set(now_ms),
        claimed_until_ms: Set(None),
        ordering_key: Set(Some(payload.ordering_key)),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
