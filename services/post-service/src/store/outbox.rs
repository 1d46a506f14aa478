//! Appends fan-out intents to the outbox, inside the caller's transaction.

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::prost::Message as _;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait as _};

use crate::entity::outbox;

/// Appends one event for `kind`, stamped with the current trace context so that the
/// asynchronous fan-out continues the trace of the request that caused it.
pub(crate) async fn append(
    txn: &impl ConnectionTrait,
    kind: Kind,
    now_ms: i64,
) -> Result<(), DbErr> {
    let label = match &kind {
        Kind::DeliverPost(_) => "deliver_post",
        Kind::RetractPost(_) => "retract_post",
        Kind::AddFollow(_) => "add_follow",
        Kind::RemoveFollow(_) => "remove_follow",
    };
    let payload = FanoutEvent {
        kind: Some(kind),
        ..Default::default()
    }
    .encode_to_vec();
    let trace = feedline_telemetry::current_trace_context();
    outbox::Entity::insert(outbox::ActiveModel {
        id: NotSet,
        kind: Set(label.to_owned()),
        payload: Set(payload),
        traceparent: Set(trace.traceparent),
        tracestate: Set(trace.tracestate),
        created_at_ms: Set(now_ms),
        attempts: Set(0),
        available_at_ms: Set(now_ms),
        claimed_until_ms: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
