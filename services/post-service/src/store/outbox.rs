//! The outbox: fan-out intents appended inside the writer's transaction, then claimed, sent and
//! retired by the relay once fanout-service acknowledges them: deleted, or moved to
//! `outbox_applied` for the retention window, from where a replay re-sends them.

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::prost::Message as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbBackend, DbErr,
    EntityTrait as _, FromQueryResult, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use super::Store;
use crate::entity::outbox;
use crate::error::Result;
use crate::migration::m20261207_000006_create_outbox_applied::OutboxApplied;
use crate::migration::m20261207_000010_create_relay_leases::RelayLeases;

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
    let ordering_key = crate::ordering::ordering_key(&kind);
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
        ordering_key: Set(Some(ordering_key)),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

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

/// Ids bound in one `IN (..)` list: well under every backend's limit on bound parameters.
const IDS_PER_STATEMENT: usize = 1000;

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
                    .columns([
                        outbox::Column::Id,
                        outbox::Column::Kind,
                        outbox::Column::Payload,
                        outbox::Column::CreatedAtMs,
                    ])
                    .expr(Expr::value(now))
                    .from(outbox::Entity)
                    .and_where(outbox::Column::Id.is_in(chunk.iter().copied()))
                    .to_owned();
                let insert = Query::insert()
                    .into_table(OutboxApplied::Table)
                    .columns([
                        OutboxApplied::Id,
                        OutboxApplied::Kind,
                        OutboxApplied::Payload,
                        OutboxApplied::CreatedAtMs,
                        OutboxApplied::AppliedAtMs,
                    ])
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
            .columns([
                OutboxApplied::Id,
                OutboxApplied::Kind,
                OutboxApplied::Payload,
                OutboxApplied::CreatedAtMs,
            ])
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

/// The relay leader lease (`relay_leases`, one row): plain conditional UPDATEs that behave alike
/// on SQLite, PostgreSQL and MySQL, so of two replicas racing, exactly one matches.
impl Store {
    /// Takes the relay lease for `holder` until `expires_at_ms`, or renews it: matches when
    /// `holder` holds it already or it expired before `now_ms` (released leases expire at 0).
    /// `false`: another replica holds it.
    pub async fn take_relay_lease(
        &self,
        holder: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool> {
        let update = Query::update()
            .table(RelayLeases::Table)
            .value(RelayLeases::Holder, holder)
            .value(RelayLeases::ExpiresAtMs, expires_at_ms)
            .and_where(Expr::col(RelayLeases::Id).eq(1))
            .and_where(
                Expr::col(RelayLeases::Holder)
                    .eq(holder)
                    .or(Expr::col(RelayLeases::ExpiresAtMs).lt(now_ms)),
            )
            .to_owned();
        let _gate = self.write_gate().await;
        // MySQL counts matched rows, not changed ones: sqlx connects with CLIENT_FOUND_ROWS.
        Ok(self.db.execute(&update).await?.rows_affected() == 1)
    }

    /// Gives the relay lease up at once if `holder` holds it, so a standby takes over without
    /// waiting for it to expire.
    pub async fn release_relay_lease(&self, holder: &str) -> Result<()> {
        let update = Query::update()
            .table(RelayLeases::Table)
            .value(RelayLeases::ExpiresAtMs, 0i64)
            .and_where(Expr::col(RelayLeases::Id).eq(1))
            .and_where(Expr::col(RelayLeases::Holder).eq(holder))
            .to_owned();
        let _gate = self.write_gate().await;
        self.db.execute(&update).await?;
        Ok(())
    }
}
