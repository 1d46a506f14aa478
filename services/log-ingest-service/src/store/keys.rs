//! App keys: several per app, each stored as the SHA-256 of its secret, found by that hash on
//! every key-cache miss, revoked for good by setting `revoke_unix_nano`.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Order, Query, SelectStatement};

use super::Store;
use crate::error::Result;

/// One key of an app, without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppKey {
    /// Its id.
    pub id: i64,
    /// The app it authenticates.
    pub app_id: i64,
    /// When it was issued, Unix nanoseconds.
    pub create_unix_nano: i64,
    /// When it was revoked, Unix nanoseconds; `None` while valid.
    pub revoke_unix_nano: Option<i64>,
}

/// A new key as stored: its row and the hash of its secret.
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// The key.
    pub key: AppKey,
    /// Lowercase hex SHA-256 of the secret.
    pub hash: String,
}

const COLUMNS: [&str; 4] = ["id", "app_id", "create_unix_nano", "revoke_unix_nano"];

/// Inserts `row` on `db` (the pool, or CreateApp's transaction).
pub(super) async fn insert_key(db: &impl ConnectionTrait, row: &KeyRow) -> Result<()> {
    let insert = Query::insert()
        .into_table(Alias::new("app_keys"))
        .columns(["id", "app_id", "key_hash", "create_unix_nano"].map(Alias::new))
        .values_panic([
            row.key.id.into(),
            row.key.app_id.into(),
            row.hash.clone().into(),
            row.key.create_unix_nano.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

fn select_keys() -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(Alias::new))
        .from(Alias::new("app_keys"))
        .to_owned()
}

fn key_of(row: &sea_orm::QueryResult) -> Result<AppKey> {
    Ok(AppKey {
        id: row.try_get_by_index(0)?,
        app_id: row.try_get_by_index(1)?,
        create_unix_nano: row.try_get_by_index(2)?,
        revoke_unix_nano: row.try_get_by_index(3)?,
    })
}

impl Store {
    /// Stores another key of an existing app.
    pub async fn add_key(&self, row: &KeyRow) -> Result<()> {
        insert_key(&self.db, row).await
    }

    /// The key whose secret hashes to `hash`, revoked or not, if any.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<AppKey>> {
        let select = select_keys()
            .and_where(Expr::col(Alias::new("key_hash")).eq(hash))
            .to_owned();
        self.db
            .query_one(&select)
            .await?
            .as_ref()
            .map(key_of)
            .transpose()
    }

    /// Revokes key `id` at `now_nanos` unless it is revoked already; the key as it now stands
    /// (with the first revocation's time) and its hash, or `None` when there is no such key.
    pub async fn revoke_key(&self, id: i64, now_nanos: i64) -> Result<Option<(AppKey, String)>> {
        let revoke = Query::update()
            .table(Alias::new("app_keys"))
            .value(Alias::new("revoke_unix_nano"), now_nanos)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .and_where(Expr::col(Alias::new("revoke_unix_nano")).is_null())
            .to_owned();
        self.db.execute(&revoke).await?;
        let select = select_keys()
            .column(Alias::new("key_hash"))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let Some(row) = self.db.query_one(&select).await? else {
            return Ok(None);
        };
        Ok(Some((key_of(&row)?, row.try_get_by_index(4)?)))
    }

    /// Every key of app `app_id`, oldest first.
    pub async fn list_keys(&self, app_id: i64) -> Result<Vec<AppKey>> {
        let select = select_keys()
            .and_where(Expr::col(Alias::new("app_id")).eq(app_id))
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        let rows = self.db.query_all(&select).await?;
        rows.iter().map(key_of).collect()
    }
}
