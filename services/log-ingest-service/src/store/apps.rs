//! Apps: created by CreateApp (or `cargo xtask logs-app`) together with their first key, and
//! found by id or name for the key RPCs.

use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, TransactionTrait as _};

use super::Store;
use super::db_error::is_unique_violation;
use super::keys::{KeyRow, insert_key};
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

/// An app as a request names it: by id or by its unique name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppRef {
    /// By `app_id`.
    Id(i64),
    /// By `name`.
    Name(String),
}

impl Store {
    /// Stores a new app and its first key, in one transaction; ALREADY_EXISTS when the name
    /// is taken.
    pub async fn create_app(&self, app: &App, key: &KeyRow) -> Result<()> {
        let insert = Query::insert()
            .into_table(Alias::new("apps"))
            .columns(["id", "name", "create_unix_nano"].map(Alias::new))
            .values_panic([
                app.id.into(),
                app.name.clone().into(),
                app.create_unix_nano.into(),
            ])
            .to_owned();
        let txn = self.db.begin().await?;
        match txn.execute(&insert).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists(format!(
                    "an app named {:?} exists already",
                    app.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        insert_key(&txn, key).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The app `app` names, if it exists.
    pub async fn find_app(&self, app: &AppRef) -> Result<Option<App>> {
        let matches: SimpleExpr = match app {
            AppRef::Id(id) => Expr::col(Alias::new("id")).eq(*id),
            AppRef::Name(name) => Expr::col(Alias::new("name")).eq(name.as_str()),
        };
        let select = Query::select()
            .columns(["id", "name", "create_unix_nano"].map(Alias::new))
            .from(Alias::new("apps"))
            .and_where(matches)
            .to_owned();
        let Some(row) = self.db.query_one(&select).await? else {
            return Ok(None);
        };
        Ok(Some(App {
            id: row.try_get_by_index(0)?,
            name: row.try_get_by_index(1)?,
            create_unix_nano: row.try_get_by_index(2)?,
        }))
    }
}
