//! The front of the outbox, as admission control measures it, and the backlog.

use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::entity::outbox;
use crate::error::Result;
use crate::store::Store;

/// The front of the outbox, as admission control measures it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxFront {
    /// Id of the oldest event not yet applied: how fast it advances is how fast fan-out drains.
    pub oldest_id: i64,
    /// Commit time (Unix ms) of the oldest event not yet applied.
    pub oldest_ms: i64,
    /// Events from that one to the newest (an upper bound of those waiting).
    pub backlog: u64,
}

impl Store {
    /// The oldest unapplied event's waiting start (`available_at_ms`: its commit, or when a
    /// dead letter released it) and the backlog behind it (the span of ids up
    /// to the newest row, an upper bound that costs two index lookups instead of a count);
    /// `None` when nothing waits. An event that has failed (attempts above 0) is not the front:
    /// it waits for its own backoff, or for the dead-letter table, and must not make admission
    /// refuse every author's writes meanwhile. Nor are the later events of its ordering key,
    /// which the relay holds behind it; a row without a key (written before the column
    /// existed) is never taken for held.
    pub async fn outbox_front(&self) -> Result<Option<OutboxFront>> {
        // The failing rows are few, found through the (attempts, ordering_key) index.
        let failing_keys = Query::select()
            .column(outbox::Column::OrderingKey)
            .from(outbox::Entity)
            .and_where(Expr::col(outbox::Column::Attempts).gt(0))
            .and_where(Expr::col(outbox::Column::OrderingKey).is_not_null())
            .to_owned();
        let oldest: Option<(i64, i64)> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .column(outbox::Column::AvailableAtMs)
            .filter(outbox::Column::Attempts.eq(0))
            .filter(
                outbox::Column::OrderingKey
                    .is_null()
                    .or(outbox::Column::OrderingKey.not_in_subquery(failing_keys)),
            )
            .order_by_asc(outbox::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        let Some((oldest_id, oldest_ms)) = oldest else {
            return Ok(None);
        };
        let newest: Option<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .order_by_desc(outbox::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        let newest = Ord::max(newest.unwrap_or(oldest_id), oldest_id);
        Ok(Some(OutboxFront {
            oldest_id,
            oldest_ms,
            backlog: u64::try_from(newest - oldest_id + 1).unwrap_or(0),
        }))
    }

    /// Rows not yet acknowledged (failing ones included), for tests and operators.
    pub async fn outbox_backlog(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait as _;
        Ok(outbox::Entity::find().count(&self.db).await?)
    }
}
