//! Retiring acknowledged rows, and the retained window of applied events (`outbox_applied`)
//! that a replay re-sends, page by page, until it is pruned.

use sea_orm::sea_query::{Expr, ExprTrait as _, Func, Order, Query};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, FromQueryResult, QueryFilter as _,
};

use crate::entity::outbox;
use crate::error::Result;
use crate::migration::m20261207_000006_create_outbox_applied::OutboxApplied;
use crate::store::Store;

/// An event kept in `outbox_applied` after it was applied.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct AppliedEvent {
    /// Its outbox id, which stays its event id.
    pub id: i64,
    /// Its kind, for logs.
    pub kind: String,
    /// The encoded `FanoutEvent` (only `kind` set), as the writer stored it.
    pub payload: Vec<u8>,
    /// Commit time, Unix ms.
    pub created_at_ms: i64,
}

/// The columns an applied event keeps, each `outbox` column with its `outbox_applied` one (the
/// time applied is added); an [`AppliedEvent`] is read back from them.
const KEPT: [(outbox::Column, OutboxApplied); 4] = [
    (outbox::Column::Id, OutboxApplied::Id),
    (outbox::Column::Kind, OutboxApplied::Kind),
    (outbox::Column::Payload, OutboxApplied::Payload),
    (outbox::Column::CreatedAtMs, OutboxApplied::CreatedAtMs),
];

/// Ids bound in one `IN (..)` list: well under every backend's limit on bound parameters.
const IDS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Retires acknowledged rows (their fan-out is durable in Redis), however many, in one
    /// transaction: the relay records a whole round of acks with one commit. With `retain` they
    /// move to `outbox_applied` (stamped with the time now), where no claim looks, until
    /// [`Store::prune_applied`] drops them; without, they are deleted.
    pub async fn complete_outbox(&self, ids: &[i64], retain: bool) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = crate::ids::now_ms();
        let _gate = self.write_gate().await;
        let txn = self.begin_write().await?;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            if retain {
                // One INSERT .. SELECT: the payload never leaves the database.
                let rows = Query::select()
                    .columns(KEPT.map(|(from, _)| from))
                    .expr(Expr::value(now))
                    .from(outbox::Entity)
                    .and_where(outbox::Column::Id.is_in(chunk.iter().copied()))
                    .to_owned();
                let insert = Query::insert()
                    .into_table(OutboxApplied::Table)
                    .columns(
                        KEPT.map(|(_, to)| to)
                            .into_iter()
                            .chain([OutboxApplied::AppliedAtMs]),
                    )
                    .select_from(rows)
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned();
                txn.execute(&insert).await?;
            }
            outbox::Entity::delete_many()
                .filter(outbox::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Deletes up to `limit` retained events applied before `before_ms`, oldest ids first;
    /// returns how many went. The caller repeats while a full chunk went, so one prune never
    /// holds locks on more than `limit` rows.
    pub async fn prune_applied(&self, before_ms: i64, limit: u64) -> Result<u64> {
        // Ids first, then a delete by key: MySQL refuses LIMIT inside an IN subquery.
        let select = Query::select()
            .column(OutboxApplied::Id)
            .from(OutboxApplied::Table)
            .and_where(Expr::col(OutboxApplied::AppliedAtMs).lt(before_ms))
            .order_by(OutboxApplied::Id, Order::Asc)
            .limit(limit)
            .to_owned();
        let ids: Vec<i64> = self
            .db
            .query_all(&select)
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0))
            .collect::<std::result::Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let _gate = self.write_gate().await;
        let delete = Query::delete()
            .from_table(OutboxApplied::Table)
            .and_where(Expr::col(OutboxApplied::Id).is_in(ids.iter().copied()))
            .to_owned();
        Ok(self.db.execute(&delete).await?.rows_affected())
    }

    /// Up to `limit` retained events after id `after` applied at or after `since_ms`, in id
    /// order: one page of a replay.
    pub async fn applied_page(
        &self,
        after: i64,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AppliedEvent>> {
        let select = Query::select()
            .columns(KEPT.map(|(_, to)| to))
            .from(OutboxApplied::Table)
            .and_where(Expr::col(OutboxApplied::Id).gt(after))
            .and_where(Expr::col(OutboxApplied::AppliedAtMs).gte(since_ms))
            .order_by(OutboxApplied::Id, Order::Asc)
            .limit(limit)
            .to_owned();
        let statement = self.db.get_database_backend().build(&select);
        Ok(AppliedEvent::find_by_statement(statement)
            .all(&self.db)
            .await?)
    }

    /// Retained events (applied, kept for replay), for tests and operators.
    pub async fn applied_count(&self) -> Result<u64> {
        let select = Query::select()
            .expr(Func::count(Expr::col(OutboxApplied::Id)))
            .from(OutboxApplied::Table)
            .to_owned();
        let row = self.db.query_one(&select).await?;
        Ok(row
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}
