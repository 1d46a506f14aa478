//! The outbox: fan-out intents appended inside the writer's transaction, then claimed, sent and
//! deleted by the relay once fanout-service acknowledges them.

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::prost::Message as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbBackend, DbErr,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use super::Store;
use crate::entity::outbox;
use crate::error::Result;

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

/// `available_at_ms` of a parked row: an event fanout-service rejected as malformed. The relay
/// never sends it again; an operator inspects the row.
pub const PARKED: i64 = i64::MAX;

impl Store {
    /// Claims up to `limit` outbox rows after `after`, in id order, for `lease_ms`.
    ///
    /// Stops at the first row still backing off: events are sent strictly in outbox order, so a
    /// failed event is retried before anything that follows it (per-author order is what makes an
    /// unfollow win over an earlier post's delivery). Rows claimed by another relay are skipped
    /// (`FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL); on SQLite there is one relay.
    pub async fn claim_outbox(
        &self,
        after: Option<i64>,
        limit: u64,
        lease_ms: i64,
    ) -> Result<Vec<outbox::Model>> {
        let now = crate::ids::now_ms();
        let _gate = self.write_gate().await;
        let txn = self.begin_write().await?;
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::AvailableAtMs.ne(PARKED))
            .filter(
                outbox::Column::ClaimedUntilMs
                    .is_null()
                    .or(outbox::Column::ClaimedUntilMs.lt(now)),
            )
            .order_by_asc(outbox::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(outbox::Column::Id.gt(after));
        }
        if self.backend() != DbBackend::Sqlite {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut rows = query.all(&txn).await?;
        if let Some(blocked) = rows.iter().position(|r| r.available_at_ms > now) {
            rows.truncate(blocked);
        }
        if !rows.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::ClaimedUntilMs, Expr::value(now + lease_ms))
                .filter(outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows)
    }

    /// Deletes acknowledged rows: their fan-out is durable in Redis.
    pub async fn complete_outbox(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _gate = self.write_gate().await;
        outbox::Entity::delete_many()
            .filter(outbox::Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Releases claimed rows. With `retry`, they count an attempt and back off exponentially
    /// (100 ms doubling, at most 10 s); without, they are free to send at once (shutdown, a
    /// broken stream).
    pub async fn release_outbox(&self, ids: &[i64], retry: bool) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = crate::ids::now_ms();
        let _gate = self.write_gate().await;
        let mut update = outbox::Entity::update_many().col_expr(
            outbox::Column::ClaimedUntilMs,
            Expr::value(Option::<i64>::None),
        );
        if retry {
            // Backoff from the attempt count already stored: 100 ms * 2^attempts, capped.
            let backoff = match self.backend() {
                DbBackend::Sqlite => "MIN(100 * (1 << MIN(attempts, 7)), 10000)",
                DbBackend::MySql => "LEAST(100 * POW(2, LEAST(attempts, 7)), 10000)",
                _ => "LEAST(100 * (1 << LEAST(attempts, 7)), 10000)",
            };
            update = update
                .col_expr(
                    outbox::Column::AvailableAtMs,
                    Expr::cust(format!("{now} + {backoff}")),
                )
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                );
        }
        update
            .filter(outbox::Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Parks rows that can never be applied, so they stop blocking the ones behind them.
    pub async fn park_outbox(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _gate = self.write_gate().await;
        outbox::Entity::update_many()
            .col_expr(outbox::Column::AvailableAtMs, Expr::value(PARKED))
            .col_expr(
                outbox::Column::ClaimedUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(outbox::Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Releases every claim. Only for a single relay (SQLite) starting up: claims left by a
    /// crashed process would otherwise delay its events until their lease expires.
    pub async fn release_all_claims(&self) -> Result<()> {
        let _gate = self.write_gate().await;
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimedUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(outbox::Column::ClaimedUntilMs.is_not_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Rows not yet acknowledged (parked ones included), for tests and operators.
    pub async fn outbox_backlog(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait as _;
        Ok(outbox::Entity::find().count(&self.db).await?)
    }
}
