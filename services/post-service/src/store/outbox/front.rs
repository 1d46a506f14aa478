//! The front of the outbox, as admission control measures it, and the backlog.

use std::collections::HashSet;

use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::entity::outbox;
use crate::error::Result;
use crate::store::Store;

/// Rows read per page while looking for the front: the first is the front unless it fails or
/// is held, which few are.
const PAGE: u64 = 64;

/// Failing rows read for their keys, at the most. Past that many (fan-out failing on a large
/// scale), events held behind the rest count as the front: admission errs towards refusing.
const FAILING_READ: u64 = 10_000;

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
    ///
    /// With `from`, only rows from that id on are looked at. On PostgreSQL the applied rows
    /// stay in the outbox's indexes as dead entries until a VACUUM, and a scan from the start
    /// walks them all.
    ///
    /// The queries are shaped so that the one sensible plan is the cheap one, with or without
    /// table statistics: a range of the primary key in id order, and the failing keys from
    /// the far end of the (attempts, ordering_key) index, in its order. As one query
    /// (`attempts = $1 AND key NOT IN (failing) ORDER BY id LIMIT 1`), PostgreSQL's generic
    /// plan (taken after five runs of a prepared statement, and without statistics where
    /// autovacuum is off) read every `attempts = 0` entry of that index, dead ones included,
    /// and sorted: 14 to 33 ms on a table with 260,000 dead rows. Under load after a follow
    /// storm the old query took 5 to 7 ms, 20 times a second: about a quarter of a core.
    ///
    /// Many rows held behind a failing event are paged through, 64 at a time, on every
    /// measurement that starts below them (once a second); few rows are ever held.
    pub async fn outbox_front_from(&self, from: Option<i64>) -> Result<Option<OutboxFront>> {
        // In the index's order, from its far end: the one plan is a short backward index
        // scan (without the order PostgreSQL's generic plan read the whole table).
        let failing: HashSet<i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::OrderingKey)
            .filter(outbox::Column::Attempts.gt(0))
            .filter(outbox::Column::OrderingKey.is_not_null())
            .order_by_desc(outbox::Column::Attempts)
            .order_by_desc(outbox::Column::OrderingKey)
            .limit(FAILING_READ)
            .into_tuple::<Option<i64>>()
            .all(&self.db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut after = from.map(|id| id.saturating_sub(1));
        let oldest = loop {
            let mut page = outbox::Entity::find()
                .select_only()
                .column(outbox::Column::Id)
                .column(outbox::Column::AvailableAtMs)
                .column(outbox::Column::Attempts)
                .column(outbox::Column::OrderingKey)
                .order_by_asc(outbox::Column::Id)
                .limit(PAGE);
            if let Some(after) = after {
                page = page.filter(outbox::Column::Id.gt(after));
            }
            let rows: Vec<(i64, i64, i32, Option<i64>)> = page.into_tuple().all(&self.db).await?;
            let front = rows.iter().find(|(_, _, attempts, key)| {
                *attempts == 0 && key.is_none_or(|key| !failing.contains(&key))
            });
            if let Some(&(id, available_at_ms, _, _)) = front {
                break Some((id, available_at_ms));
            }
            match rows.last() {
                Some(&(id, ..)) if rows.len() as u64 == PAGE => after = Some(id),
                _ => break None,
            }
        };
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

    /// [`Self::outbox_front_from`] the start of the outbox: the whole front, exactly.
    pub async fn outbox_front(&self) -> Result<Option<OutboxFront>> {
        self.outbox_front_from(None).await
    }

    /// Rows not yet acknowledged (failing ones included), for tests and operators.
    pub async fn outbox_backlog(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait as _;
        Ok(outbox::Entity::find().count(&self.db).await?)
    }
}
