//! Creating and reading users.

use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
};

use super::db_error::is_unique_violation;
use super::{Store, User};
use crate::entity::user;
use crate::error::{Error, Result};

/// A validated CreateUser input.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Lowercase handle, already validated.
    pub handle: String,
    /// Display name, already validated.
    pub display_name: String,
    /// The token subject to bind the user to, if any.
    pub subject: Option<String>,
}

impl Store {
    /// Creates a user; a taken handle is `AlreadyExists`.
    #[tracing::instrument(skip_all, fields(handle = %new.handle))]
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let (id, now) = self.ids.next()?;
        let row = user::Model {
            id,
            handle: new.handle,
            display_name: new.display_name,
            created_at_ms: now,
            follower_count: 0,
            following_count: 0,
            subject: new.subject,
        };
        match &self.group {
            // SQLite: joins the next group, with one COMMIT for many calls.
            Some(group) => {
                group
                    .submit(move |txn| Box::pin(insert_user(txn, row.clone())))
                    .await
            }
            // One statement needs no transaction of its own.
            None => insert_user(&self.db, row).await,
        }
    }

    /// Reads a user; unknown is `NotFound`.
    #[tracing::instrument(skip(self))]
    pub async fn get_user(&self, user_id: i64) -> Result<User> {
        user::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))
    }

    /// The id of the user bound to `subject`, if any.
    #[tracing::instrument(skip(self))]
    pub async fn user_of_subject(&self, subject: &str) -> Result<Option<i64>> {
        Ok(user::Entity::find()
            .filter(user::Column::Subject.eq(subject))
            .one(&self.db)
            .await?
            .map(|user| user.id))
    }
}

/// CreateUser's one statement; a taken handle is `AlreadyExists`.
async fn insert_user(conn: &impl ConnectionTrait, row: User) -> Result<User> {
    let active = user::ActiveModel {
        id: Set(row.id),
        handle: Set(row.handle.clone()),
        display_name: Set(row.display_name.clone()),
        created_at_ms: Set(row.created_at_ms),
        follower_count: Set(0),
        following_count: Set(0),
        subject: Set(row.subject.clone()),
    };
    match user::Entity::insert(active)
        .exec_without_returning(conn)
        .await
    {
        Ok(_) => Ok(row),
        // The index that refused it is named in the message on every backend.
        Err(e) if is_unique_violation(&e) && e.to_string().contains("subject") => Err(
            Error::AlreadyExists("a user is already bound to this token's subject".into()),
        ),
        Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists(format!(
            "handle {:?} is taken",
            row.handle
        ))),
        Err(e) => Err(e.into()),
    }
}
