//! The follow graph: follow, unfollow and the two listings.

use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{AddFollow, RemoveFollow};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, TryInsertResult,
};

use super::db_error::is_unique_violation;
use super::{Page, PageOf, Store, outbox};
use crate::entity::{follow, user};
use crate::error::{Error, Result};
use crate::ids::now_ms;

/// A validated Follow or Unfollow input.
#[derive(Clone, Copy, Debug)]
pub struct FollowChange {
    /// Who follows.
    pub follower_id: i64,
    /// Who is followed.
    pub followee_id: i64,
}

impl Store {
    /// Creates the edge with its counters and outbox event; `Ok(false)` if it existed.
    #[tracing::instrument(skip(self))]
    pub async fn follow(&self, change: FollowChange) -> Result<bool> {
        self.write(move |txn| Box::pin(insert_edge(txn, change)))
            .await
    }

    /// Removes the edge with its counters and outbox event; `Ok(false)` if there was none.
    #[tracing::instrument(skip(self))]
    pub async fn unfollow(&self, change: FollowChange) -> Result<bool> {
        self.write(move |txn| Box::pin(delete_edge(txn, change)))
            .await
    }

    /// Ids of `user_id`'s followers, ascending, one page.
    #[tracing::instrument(skip(self))]
    pub async fn list_followers(&self, user_id: i64, page: Page) -> Result<PageOf<i64>> {
        self.get_user(user_id).await?;
        let mut query = follow::Entity::find()
            .select_only()
            .column(follow::Column::FollowerId)
            .filter(follow::Column::FolloweeId.eq(user_id))
            .order_by_asc(follow::Column::FollowerId)
            .limit(page.size + 1);
        if let Some(after) = page.after {
            query = query.filter(follow::Column::FollowerId.gt(after));
        }
        let rows: Vec<i64> = query.into_tuple().all(&self.db).await?;
        Ok(PageOf::from_probe(rows, page.size, |id| *id))
    }

    /// Ids of the users `user_id` follows, ascending, one page.
    #[tracing::instrument(skip(self))]
    pub async fn list_following(&self, user_id: i64, page: Page) -> Result<PageOf<i64>> {
        self.get_user(user_id).await?;
        let mut query = follow::Entity::find()
            .select_only()
            .column(follow::Column::FolloweeId)
            .filter(follow::Column::FollowerId.eq(user_id))
            .order_by_asc(follow::Column::FolloweeId)
            .limit(page.size + 1);
        if let Some(after) = page.after {
            query = query.filter(follow::Column::FolloweeId.gt(after));
        }
        let rows: Vec<i64> = query.into_tuple().all(&self.db).await?;
        Ok(PageOf::from_probe(rows, page.size, |id| *id))
    }
}

/// Follow's statements, in the caller's transaction.
async fn insert_edge(txn: &DatabaseTransaction, change: FollowChange) -> Result<bool> {
    let now = now_ms();
    let created = if locks_rows(txn) {
        insert_edge_locked(txn, change, now).await?
    } else {
        insert_edge_unlocked(txn, change, now).await?
    };
    if !created {
        return Ok(false);
    }
    adjust_counts(txn, change, 1).await?;
    outbox::append(
        txn,
        Kind::AddFollow(AddFollow {
            follower_id: change.follower_id,
            followee_id: change.followee_id,
        }),
        now,
    )
    .await?;
    Ok(true)
}

/// The edge on PostgreSQL and MySQL: both users locked first (see [`lock_users`]), then
/// looked up; `Ok(false)` if it existed.
async fn insert_edge_locked(
    txn: &DatabaseTransaction,
    change: FollowChange,
    now: i64,
) -> Result<bool> {
    lock_users(txn, change).await?;
    let exists = follow::Entity::find_by_id((change.followee_id, change.follower_id))
        .one(txn)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    match follow::Entity::insert(edge(change, now))
        .exec_without_returning(txn)
        .await
    {
        Ok(_) => Ok(true),
        // Lost a race with an identical Follow: the edge exists, which is what was asked.
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The edge on SQLite, where one writer holds the whole database: no lock order to keep, so
/// the insert is the check. An existing edge is a conflict that does nothing (`Ok(false)`);
/// an unknown user fails the foreign key, and only then are the users looked up, to name the
/// field. One statement where the locked path takes three: group commit runs calls one after
/// another, so each statement counts.
async fn insert_edge_unlocked(
    txn: &DatabaseTransaction,
    change: FollowChange,
    now: i64,
) -> Result<bool> {
    match follow::Entity::insert(edge(change, now))
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await
    {
        // The count, not the variant, tells: a conflict that did nothing is `Inserted(0)`.
        Ok(TryInsertResult::Inserted(rows)) => Ok(rows > 0),
        Ok(_) => Ok(false),
        Err(e) => {
            lock_users(txn, change).await?;
            Err(e.into())
        }
    }
}

/// The follows row of `change`.
fn edge(change: FollowChange, now: i64) -> follow::ActiveModel {
    follow::ActiveModel {
        followee_id: Set(change.followee_id),
        follower_id: Set(change.follower_id),
        created_at_ms: Set(now),
    }
}

/// Unfollow's statements, in the caller's transaction.
async fn delete_edge(txn: &DatabaseTransaction, change: FollowChange) -> Result<bool> {
    // Where rows are locked, both users first (see `lock_users`); on SQLite only when there
    // was nothing to delete, to tell an unknown user from a missing edge.
    let lock_first = locks_rows(txn);
    if lock_first {
        lock_users(txn, change).await?;
    }
    let deleted = follow::Entity::delete_by_id((change.followee_id, change.follower_id))
        .exec(txn)
        .await?
        .rows_affected;
    if deleted == 0 {
        if !lock_first {
            lock_users(txn, change).await?;
        }
        return Ok(false);
    }
    adjust_counts(txn, change, -1).await?;
    outbox::append(
        txn,
        Kind::RemoveFollow(RemoveFollow {
            follower_id: change.follower_id,
            followee_id: change.followee_id,
        }),
        now_ms(),
    )
    .await?;
    Ok(true)
}

/// Whether the database locks rows (PostgreSQL, MySQL), so that lock order matters; SQLite
/// locks the whole database for its one writer.
fn locks_rows(txn: &impl ConnectionTrait) -> bool {
    txn.get_database_backend() != DbBackend::Sqlite
}

/// Locks both users' rows, in id order, and fails naming the field of any unknown one.
///
/// Locking first matters on InnoDB: the foreign-key check takes a shared lock on the user
/// rows, and two concurrent follows of the same user would then deadlock when both upgrade
/// it to update the counter. Ascending order prevents A->B / B->A deadlocks.
async fn lock_users(txn: &impl ConnectionTrait, change: FollowChange) -> Result<()> {
    let mut query = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in([change.follower_id, change.followee_id]))
        .order_by_asc(user::Column::Id);
    if locks_rows(txn) {
        query = query.lock_exclusive();
    }
    let found: Vec<i64> = query.into_tuple().all(txn).await?;
    let mut violations = Vec::new();
    for (field, id) in [
        ("follower_id", change.follower_id),
        ("followee_id", change.followee_id),
    ] {
        if !found.contains(&id) {
            violations.push(feedline_service_kit::validation::FieldViolation::new(
                field,
                format!("no user with id {id}"),
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// Moves both users' counters by `delta` in one statement (both rows are already locked
/// where rows lock: see `lock_users`).
async fn adjust_counts(txn: &impl ConnectionTrait, change: FollowChange, delta: i64) -> Result<()> {
    let moved = |column: user::Column, id: i64| {
        Expr::col(column).add(Expr::case(user::Column::Id.eq(id), delta).finally(0))
    };
    user::Entity::update_many()
        .col_expr(
            user::Column::FollowerCount,
            moved(user::Column::FollowerCount, change.followee_id),
        )
        .col_expr(
            user::Column::FollowingCount,
            moved(user::Column::FollowingCount, change.follower_id),
        )
        .filter(user::Column::Id.is_in([change.follower_id, change.followee_id]))
        .exec(txn)
        .await?;
    Ok(())
}
