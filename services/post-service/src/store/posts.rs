//! Posts: create (idempotent, with its outbox event), read, batch read, delete, list (by author,
//! and by the authors a user follows).

use std::collections::{HashMap, HashSet};

use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{DeliverPost, RetractPost};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait as _, DatabaseTransaction, DbBackend,
    EntityTrait as _, JoinType, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use super::db_error::is_unique_violation;
use super::{Page, PageOf, Post, Store, outbox};
use crate::convert::post_to_proto;
use crate::entity::{follow, post, user};
use crate::error::{Error, Result};
use crate::ids::now_ms;

/// A validated CreatePost input.
#[derive(Clone, Debug)]
pub struct NewPost {
    /// The author.
    pub author_id: i64,
    /// The text, already validated.
    pub body: String,
    /// The client's idempotency key, if any.
    pub idempotency_key: Option<String>,
}

/// The outcome of CreatePost.
#[derive(Clone, Debug)]
pub struct PostWrite {
    /// The post (the earlier one on a replay).
    pub post: Post,
    /// False when an earlier call with the same key created it.
    pub created: bool,
}

impl Store {
    /// Creates a post and its DeliverPost outbox event in one transaction: O(1) statements
    /// whatever the author's follower count.
    #[tracing::instrument(skip_all, fields(author_id = new.author_id))]
    pub async fn create_post(&self, new: NewPost) -> Result<PostWrite> {
        if let Some(replay) = self.find_replay(&new).await? {
            return Ok(replay);
        }
        let (id, now) = self.ids.next()?;
        let row = post::Model {
            id,
            author_id: new.author_id,
            body: new.body.clone(),
            created_at_ms: now,
            deleted_at_ms: None,
            idempotency_key: new.idempotency_key.clone(),
        };
        match self
            .write(move |txn| Box::pin(insert_post(txn, row.clone())))
            .await?
        {
            Some(post) => Ok(PostWrite {
                post,
                created: true,
            }),
            // A concurrent call with the same key committed first: answer with its post.
            None => self.find_replay(&new).await?.ok_or_else(|| {
                Error::Internal("idempotency key collided but no post holds it".into())
            }),
        }
    }

    /// The post an earlier call with the same idempotency key created, if any. The same key
    /// with another body is the caller's mistake, not a replay.
    async fn find_replay(&self, new: &NewPost) -> Result<Option<PostWrite>> {
        let Some(key) = &new.idempotency_key else {
            return Ok(None);
        };
        let existing = post::Entity::find()
            .filter(post::Column::AuthorId.eq(new.author_id))
            .filter(post::Column::IdempotencyKey.eq(key.as_str()))
            .one(&self.db)
            .await?;
        match existing {
            None => Ok(None),
            Some(post) if post.body == new.body => Ok(Some(PostWrite {
                post,
                created: false,
            })),
            Some(_) => Err(Error::invalid(
                "idempotency_key",
                "already used by this author for a post with another body",
            )),
        }
    }

    /// Reads a live post; unknown or deleted is `NotFound`.
    #[tracing::instrument(skip(self))]
    pub async fn get_post(&self, post_id: i64) -> Result<Post> {
        post::Entity::find_by_id(post_id)
            .filter(post::Column::DeletedAtMs.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("post {post_id} not found")))
    }

    /// Reads many live posts in one query, in request order; returns the missing ids apart.
    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    pub async fn batch_get_posts(&self, ids: &[i64]) -> Result<(Vec<Post>, Vec<i64>)> {
        let mut found: HashMap<i64, Post> = post::Entity::find()
            .filter(post::Column::Id.is_in(ids.iter().copied()))
            .filter(post::Column::DeletedAtMs.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let (mut posts, mut missing) = (Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for &id in ids.iter().filter(|id| seen.insert(**id)) {
            match found.remove(&id) {
                Some(post) => posts.push(post),
                None => missing.push(id),
            }
        }
        Ok((posts, missing))
    }

    /// Tombstones a post and appends its RetractPost event; `Ok(false)` if already deleted.
    #[tracing::instrument(skip(self))]
    pub async fn delete_post(&self, post_id: i64, author_id: i64) -> Result<bool> {
        self.write(move |txn| Box::pin(tombstone(txn, post_id, author_id)))
            .await
    }

    /// An author's live posts, newest first, one page.
    #[tracing::instrument(skip(self))]
    pub async fn list_author_posts(&self, author_id: i64, page: Page) -> Result<PageOf<Post>> {
        self.get_user(author_id).await?;
        let mut query = post::Entity::find()
            .filter(post::Column::AuthorId.eq(author_id))
            .filter(post::Column::DeletedAtMs.is_null())
            .order_by_desc(post::Column::Id)
            .limit(page.size + 1);
        if let Some(after) = page.after {
            query = query.filter(post::Column::Id.lt(after));
        }
        let rows = query.all(&self.db).await?;
        Ok(PageOf::from_probe(rows, page.size, |p| p.id))
    }

    /// The newest `max` live posts of the authors `user_id` follows, newest first: one join of
    /// `follows` (by follower) with `posts` (by author and id). An unknown user is `NotFound`;
    /// only an empty answer pays the second query that tells it from a user with nothing to read.
    #[tracing::instrument(skip(self))]
    pub async fn list_followee_posts(&self, user_id: i64, max: u64) -> Result<Vec<Post>> {
        let by_followee = post::Entity::belongs_to(follow::Entity)
            .from(post::Column::AuthorId)
            .to(follow::Column::FolloweeId)
            .into();
        let posts = post::Entity::find()
            .join(JoinType::InnerJoin, by_followee)
            .filter(follow::Column::FollowerId.eq(user_id))
            .filter(post::Column::DeletedAtMs.is_null())
            .order_by_desc(post::Column::Id)
            .limit(max)
            .all(&self.db)
            .await?;
        if posts.is_empty() {
            // A follow row proves its follower exists (users are never deleted); no rows does not.
            self.get_user(user_id).await?;
        }
        Ok(posts)
    }
}

/// CreatePost's statements, in the caller's transaction: the post and its DeliverPost event.
/// `Ok(None)` when the idempotency key is taken (by a call that committed first, or that ran
/// earlier in the same group): nothing was written, and the caller answers with that post.
async fn insert_post(txn: &DatabaseTransaction, row: Post) -> Result<Option<Post>> {
    // SQLite lets the foreign key find an unknown author (a failed statement leaves its
    // transaction usable there), which saves a lookup per post; PostgreSQL aborts the
    // transaction on any error, so it looks first, as MySQL does.
    let sqlite = txn.get_database_backend() == DbBackend::Sqlite;
    if !sqlite {
        check_author(txn, row.author_id).await?;
    }
    let insert = post::Entity::insert(post::ActiveModel {
        id: Set(row.id),
        author_id: Set(row.author_id),
        body: Set(row.body.clone()),
        created_at_ms: Set(row.created_at_ms),
        deleted_at_ms: Set(None),
        idempotency_key: Set(row.idempotency_key.clone()),
    })
    .exec_without_returning(txn)
    .await;
    match insert {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) && row.idempotency_key.is_some() => return Ok(None),
        Err(e) if sqlite => {
            check_author(txn, row.author_id).await?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    }
    outbox::append(
        txn,
        Kind::DeliverPost(DeliverPost {
            post: Some(post_to_proto(&row)),
        }),
        row.created_at_ms,
    )
    .await?;
    Ok(Some(row))
}

/// Fails with a violation of `author_id` when no such user exists.
async fn check_author(txn: &DatabaseTransaction, author_id: i64) -> Result<()> {
    let exists = user::Entity::find_by_id(author_id)
        .select_only()
        .column(user::Column::Id)
        .into_tuple::<i64>()
        .one(txn)
        .await?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(Error::invalid(
            "author_id",
            format!("no user with id {author_id}"),
        ))
    }
}

/// DeletePost's statements, in the caller's transaction: the tombstone and its RetractPost
/// event; `Ok(false)` if the post was already deleted.
async fn tombstone(txn: &DatabaseTransaction, post_id: i64, author_id: i64) -> Result<bool> {
    let post = post::Entity::find_by_id(post_id)
        .one(txn)
        .await?
        .filter(|p| p.author_id == author_id)
        .ok_or_else(|| Error::NotFound(format!("post {post_id} by user {author_id} not found")))?;
    if post.deleted_at_ms.is_some() {
        return Ok(false);
    }
    let now = now_ms();
    // The IS NULL guard makes a concurrent second delete a no-op instead of a second event.
    let updated = post::Entity::update_many()
        .col_expr(post::Column::DeletedAtMs, now.into())
        .filter(post::Column::Id.eq(post_id))
        .filter(post::Column::DeletedAtMs.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if updated == 0 {
        return Ok(false);
    }
    outbox::append(
        txn,
        Kind::RetractPost(RetractPost { post_id, author_id }),
        now,
    )
    .await?;
    Ok(true)
}
