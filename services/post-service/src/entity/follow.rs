//! The `follows` table: one row per edge, keyed (followee, follower) so that a user's followers
//! are one range scan.

use sea_orm::entity::prelude::*;

/// A follow edge.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follows")]
pub struct Model {
    /// The user followed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub followee_id: i64,
    /// The user following.
    #[sea_orm(primary_key, auto_increment = false)]
    pub follower_id: i64,
    /// When the edge was created, Unix milliseconds.
    pub created_at_ms: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
