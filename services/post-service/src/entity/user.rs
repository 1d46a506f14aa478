//! The `users` table.

use sea_orm::entity::prelude::*;

/// A user row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Time-ordered id assigned by [`crate::ids::IdGenerator`].
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// Unique handle.
    #[sea_orm(unique)]
    pub handle: String,
    /// Name shown to people.
    pub display_name: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Maintained in the same transaction as each follow edge.
    pub follower_count: i64,
    /// Maintained in the same transaction as each follow edge.
    pub following_count: i64,
    /// The token subject whose calls act as this user (unique); None: only admins act for it.
    #[sea_orm(unique)]
    pub subject: Option<String>,
}

/// No relations are navigated through sea-orm; joins are not needed on the hot paths.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
