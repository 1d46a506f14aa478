//! The `outbox` table: fan-out intents committed in the same transaction as the change that
//! causes them, and sent to fanout-service by the relay (issue 3) until acknowledged.

use sea_orm::entity::prelude::*;

/// One pending event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// Auto-increment id: the relay sends in this order, and it becomes the event id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event kind's label (`EventKind::label` in `feedline_proto`: `deliver_post`,
    /// `retract_post`, `add_follow`, `remove_follow`), for operators reading the table and for
    /// spans; the payload is authoritative.
    pub kind: String,
    /// A protobuf-encoded `feedline.fanout.v1.FanoutEvent` with only its `kind` set
    /// (`OutboxPayload` in `feedline_proto`), encoded once by the writer: the relay sends these
    /// bytes as they are, with the id, commit time and trace context of this row appended.
    #[sea_orm(column_type = "Blob")]
    pub payload: Vec<u8>,
    /// W3C traceparent of the request that wrote the row (empty when untraced).
    pub traceparent: String,
    /// W3C tracestate accompanying it.
    pub tracestate: String,
    /// Commit time, Unix milliseconds: fan-out lag is measured from here.
    pub created_at_ms: i64,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not to be sent before this time (retry backoff), Unix milliseconds.
    pub available_at_ms: i64,
    /// Set while a relay has the row in flight; another relay may take it after this time.
    pub claimed_until_ms: Option<i64>,
    /// The event's ordering key (a post's author, a follow's followee: `Kind::ordering_key` in
    /// `feedline_proto`), so that admission control can tell the events held
    /// behind a failing one of their key; `None` on rows written before the column existed.
    pub ordering_key: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
