//! The `posts` table.

use sea_orm::entity::prelude::*;

/// A post row. Deletion is a tombstone (`deleted_at_ms`), so a retract can still name the post
/// and an idempotent replay of its creation still finds it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "posts")]
pub struct Model {
    /// Time-ordered id: later posts have larger ids.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The author.
    pub author_id: i64,
    /// The text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Creation time, Unix milliseconds (also the timeline score).
    pub created_at_ms: i64,
    /// Deletion time, Unix milliseconds; `None` while the post is live.
    pub deleted_at_ms: Option<i64>,
    /// Client key making CreatePost retries safe; unique per author.
    pub idempotency_key: Option<String>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
