//! Apps and their keys: created by CreateApp (or `cargo xtask logs-app`), looked up on every
//! ingest call by the SHA-256 of the key.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};

use super::Store;
use super::db_error::is_unique_violation;
use crate::error::{Error, Result};

/// A registered app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// When it was created, Unix nanoseconds.
    pub create_unix_nano: i64,
}

impl Store {
    /// Stores a new app with the hash of its key; ALREADY_EXISTS when the name is taken.
    pub async fn create_app(&self, app: &App, key_hash: &str) -> Result<()> {
        let insert = Query::insert()
            .into_table(Alias::new("apps"))
            .columns(["id", "name", "key_hash", "create_unix_nano"].map(Alias::new))
            .values_panic([
                app.id.into(),
                app.name.clone().into(),
                key_hash.into(),
                app.create_unix_nano.into(),
            ])
            .to_owned();
        match self.db.execute(&insert).await {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists(format!(
                "an app named {:?} exists already",
                app.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The id of the app whose key hashes to `key_hash`, if any.
    pub async fn app_by_key_hash(&self, key_hash: &str) -> Result<Option<i64>> {
        let select = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("apps"))
            .and_where(Expr::col(Alias::new("key_hash")).eq(key_hash))
            .to_owned();
        let row = self.db.query_one(&select).await?;
        Ok(match row {
            Some(row) => Some(row.try_get_by_index::<i64>(0)?),
            None => None,
        })
    }
}
