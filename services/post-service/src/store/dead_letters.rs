//! Dead letters: outbox events the relay gave up on, moved from `outbox` to `outbox_dead` in
//! one transaction with their last error, listed and requeued by an operator.
//!
//! A requeued event gets a new outbox id: it goes to the end of the outbox, behind every event
//! committed since, so the relay finds it with the claims it already makes. Per-author order is
//! knowingly relaxed for it: it applies after the author's later events (which went on while it
//! was dead), never before them.

use sea_orm::sea_query::{Expr, ExprTrait as _, IntoIden, Order, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait as _, FromQueryResult, QuerySelect as _};

use super::{PageOf, Store};
use crate::entity::outbox;
use crate::error::{Error, Result};
use crate::ids::now_ms;
use crate::migration::m20261207_000008_create_outbox_dead::OutboxDead;
use crate::migration::m20261207_000009_add_outbox_ordering_key::Added;

/// Most ids one requeue takes; `requeue --all` goes through the table this many at a time.
pub const MAX_REQUEUE: usize = 1000;

/// An event given up on, as listed.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct DeadLetter {
    /// Its outbox id (its event id).
    pub id: i64,
    /// Its kind (`deliver_post`, ...), as the writer labelled it.
    pub kind: String,
    /// The encoded `FanoutEvent`.
    pub payload: Vec<u8>,
    /// Commit time, Unix ms.
    pub created_at_ms: i64,
    /// Failed attempts before it was given up.
    pub attempts: i32,
    /// The last error.
    pub error: String,
    /// When it was given up, Unix ms.
    pub dead_at_ms: i64,
}

/// Why one outbox row is given up on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GiveUp {
    /// The outbox id.
    pub id: i64,
    /// Failed attempts, this one included.
    pub attempts: i32,
    /// The last error.
    pub error: String,
}

impl Store {
    /// Moves `letters` from `outbox` to `outbox_dead`, all in one transaction. A row no longer
    /// in `outbox` is skipped.
    pub async fn bury_outbox(&self, letters: &[GiveUp]) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let _gate = self.write_gate().await;
        let txn = self.begin_write().await?;
        for letter in letters {
            let row = Query::select()
                .columns([
                    outbox::Column::Id,
                    outbox::Column::Kind,
                    outbox::Column::Payload,
                    outbox::Column::Traceparent,
                    outbox::Column::Tracestate,
                    outbox::Column::CreatedAtMs,
                ])
                .expr(Expr::value(letter.attempts))
                .expr(Expr::value(letter.error.clone()))
                .expr(Expr::value(now))
                .column(outbox::Column::OrderingKey)
                .from(outbox::Entity)
                .and_where(Expr::col(outbox::Column::Id).eq(letter.id))
                .to_owned();
            let insert = Query::insert()
                .into_table(OutboxDead::Table)
                .columns(
                    OutboxDead::COLUMNS
                        .map(IntoIden::into_iden)
                        .into_iter()
                        .chain([Added::OrderingKey.into_iden()]),
                )
                .select_from(row)
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned();
            txn.execute(&insert).await?;
            let key: Option<Option<i64>> = outbox::Entity::find_by_id(letter.id)
                .select_only()
                .column(outbox::Column::OrderingKey)
                .into_tuple()
                .one(&txn)
                .await?;
            let delete = Query::delete()
                .from_table(outbox::Entity)
                .and_where(Expr::col(outbox::Column::Id).eq(letter.id))
                .to_owned();
            txn.execute(&delete).await?;
            // The author's events held behind this one wait from now on, not since their
            // commit: admission control measures the front's age from `available_at_ms`, and
            // must not refuse everyone's writes for the time they were held.
            if let Some(Some(key)) = key {
                let release = Query::update()
                    .table(outbox::Entity)
                    .value(outbox::Column::AvailableAtMs, now)
                    .and_where(Expr::col(outbox::Column::OrderingKey).eq(key))
                    .and_where(Expr::col(outbox::Column::Attempts).eq(0))
                    .and_where(Expr::col(outbox::Column::AvailableAtMs).lt(now))
                    .to_owned();
                txn.execute(&release).await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Up to `size` dead letters after id `after`, in id order.
    pub async fn dead_letters(&self, after: Option<i64>, size: u64) -> Result<PageOf<DeadLetter>> {
        let select = Query::select()
            .columns(
                [
                    OutboxDead::Id,
                    OutboxDead::Kind,
                    OutboxDead::Payload,
                    OutboxDead::CreatedAtMs,
                    OutboxDead::Attempts,
                    OutboxDead::Error,
                    OutboxDead::DeadAtMs,
                ]
                .map(|column| (OutboxDead::Table, column)),
            )
            .from(OutboxDead::Table)
            .and_where(Expr::col(OutboxDead::Id).gt(after.unwrap_or(0)))
            .order_by(OutboxDead::Id, Order::Asc)
            .limit(size + 1)
            .to_owned();
        let statement = self.backend().build(&select);
        let rows = DeadLetter::find_by_statement(statement)
            .all(&self.db)
            .await?;
        Ok(PageOf::from_probe(rows, size, |row| row.id))
    }

    /// Moves the dead letters `ids` (at most [`MAX_REQUEUE`]) back to the end of the outbox, in
    /// id order (each gets a new id), with their attempts reset, in one transaction; returns how
    /// many. NOT_FOUND, and nothing moved, when any id is not a dead letter. Their commit time
    /// becomes now: fan-out lag (and admission control) count from the requeue.
    pub async fn requeue_dead(&self, ids: &[i64]) -> Result<u64> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        {
            let _gate = self.write_gate().await;
            let txn = self.begin_write().await?;
            let present = dead_ids(&txn, &ids).await?;
            if present.len() != ids.len() {
                let missing: Vec<i64> =
                    ids.into_iter().filter(|id| !present.contains(id)).collect();
                txn.rollback().await?;
                return Err(Error::NotFound(format!(
                    "no dead letter with id {missing:?}"
                )));
            }
            for id in &ids {
                // One row at a time, so the new ids follow the old order on every backend.
                let row = Query::select()
                    .columns([
                        OutboxDead::Kind,
                        OutboxDead::Payload,
                        OutboxDead::Traceparent,
                        OutboxDead::Tracestate,
                    ])
                    .expr(Expr::value(now))
                    .expr(Expr::value(0))
                    .expr(Expr::value(now))
                    .column(Added::OrderingKey)
                    .from(OutboxDead::Table)
                    .and_where(Expr::col(OutboxDead::Id).eq(*id))
                    .to_owned();
                let insert = Query::insert()
                    .into_table(outbox::Entity)
                    .columns([
                        outbox::Column::Kind,
                        outbox::Column::Payload,
                        outbox::Column::Traceparent,
                        outbox::Column::Tracestate,
                        outbox::Column::CreatedAtMs,
                        outbox::Column::Attempts,
                        outbox::Column::AvailableAtMs,
                        outbox::Column::OrderingKey,
                    ])
                    .select_from(row)
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned();
                txn.execute(&insert).await?;
            }
            let delete = Query::delete()
                .from_table(OutboxDead::Table)
                .and_where(Expr::col(OutboxDead::Id).is_in(ids.iter().copied()))
                .to_owned();
            txn.execute(&delete).await?;
            txn.commit().await?;
        }
        self.outbox_signal.notify_one();
        Ok(ids.len() as u64)
    }

    /// Requeues every dead letter, [`MAX_REQUEUE`] at a time; returns how many.
    pub async fn requeue_all_dead(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            let page = self.dead_letters(None, MAX_REQUEUE as u64).await?;
            if page.items.is_empty() {
                return Ok(total);
            }
            let ids: Vec<i64> = page.items.iter().map(|letter| letter.id).collect();
            match self.requeue_dead(&ids).await {
                Ok(moved) => total += moved,
                // Another operator requeued some meanwhile: read the table again.
                Err(Error::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// Which of `ids` are dead letters.
async fn dead_ids(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<i64>> {
    let select = Query::select()
        .column(OutboxDead::Id)
        .from(OutboxDead::Table)
        .and_where(Expr::col(OutboxDead::Id).is_in(ids.iter().copied()))
        .to_owned();
    Ok(txn
        .query_all(&select)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<std::result::Result<_, _>>()?)
}
