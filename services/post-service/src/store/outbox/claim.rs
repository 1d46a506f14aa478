//! Claiming outbox rows to send, and releasing them: on an ack that asks for a retry (with
//! backoff), a broken stream, or a relay leader taking over.

use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait as _, DbBackend, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};

use crate::entity::outbox;
use crate::error::Result;
use crate::store::Store;

/// One pass of a claim: the rows taken, in id order, and the highest id looked at (taken or
/// not), where the next pass resumes.
#[derive(Debug, Default)]
pub struct Claim {
    /// The rows taken (leased to this relay on PostgreSQL and MySQL).
    pub rows: Vec<outbox::Model>,
    /// The highest id read, taken or not; `None` when nothing was read.
    pub last_seen: Option<i64>,
}

impl Store {
    /// Claims the rows after `after`, in id order, that are free to send now: up to `limit`.
    /// A row still backing off is skipped (see [`Store::claim_outbox_picking`] for the relay's
    /// per-author rule).
    pub async fn claim_outbox(
        &self,
        after: Option<i64>,
        limit: u64,
        lease_ms: i64,
    ) -> Result<Vec<outbox::Model>> {
        let claim = self
            .claim_outbox_picking(after, limit, lease_ms, |row, now| {
                row.available_at_ms <= now
            })
            .await?;
        Ok(claim.rows)
    }

    /// Reads up to `limit` outbox rows after `after` in id order, backing-off rows included,
    /// and claims for `lease_ms` those `pick` takes (it is given each row, in order, and the
    /// time now). The relay's `pick` skips the rows of an author whose earlier event is backing
    /// off, so one author's failing event never holds up another author's.
    ///
    /// Rows claimed by another relay are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL and
    /// MySQL); on SQLite there is one relay, and the claim is a plain read.
    pub async fn claim_outbox_picking(
        &self,
        after: Option<i64>,
        limit: u64,
        lease_ms: i64,
        mut pick: impl FnMut(&outbox::Model, i64) -> bool,
    ) -> Result<Claim> {
        let now = crate::ids::now_ms();
        let mut query = outbox::Entity::find()
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
        let take = |rows: Vec<outbox::Model>, pick: &mut dyn FnMut(&outbox::Model, i64) -> bool| {
            let last_seen = rows.last().map(|r| r.id);
            let rows = rows.into_iter().filter(|row| pick(row, now)).collect();
            Claim { rows, last_seen }
        };
        if self.is_sqlite() {
            // The only relay of this database (it released every claim at start): a claim
            // would guard against nobody, so it is a plain read, with no write to commit.
            let rows = query.all(&self.db).await?;
            return Ok(take(rows, &mut pick));
        }
        let txn = self.begin_write().await?;
        let rows = query
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        let claim = take(rows, &mut pick);
        if !claim.rows.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::ClaimedUntilMs, Expr::value(now + lease_ms))
                .filter(outbox::Column::Id.is_in(claim.rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(claim)
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

    /// Releases rows that failed, each counting one more attempt and not to be sent again
    /// before its own time (the relay's jittered backoff), in one transaction.
    pub async fn retry_outbox(&self, retries: &[(i64, i64)]) -> Result<()> {
        if retries.is_empty() {
            return Ok(());
        }
        let _gate = self.write_gate().await;
        let txn = self.begin_write().await?;
        for &(id, available_at_ms) in retries {
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::ClaimedUntilMs,
                    Expr::value(Option::<i64>::None),
                )
                .col_expr(outbox::Column::AvailableAtMs, Expr::value(available_at_ms))
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .filter(outbox::Column::Id.eq(id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Releases every claim. Only for the one relay of the database (the relay leader) taking
    /// over: claims left by a crashed or deposed leader would otherwise hide their rows until
    /// their lease expires while later rows of the same authors went out first.
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
}
