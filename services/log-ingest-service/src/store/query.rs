//! QueryLogs: one app's records, newest first, filtered, resumed after a `(time, id)` cursor.
//! Every page is a range scan of `log_records_app_time` from the cursor down.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait as _, LikeExpr, Order, Query};

use super::Store;
use super::rows::decode_record;
use crate::error::Result;
use crate::record::LogQuery;
use crate::record::StoredRecord;

const COLUMNS: [&str; 10] = [
    "id",
    "app_id",
    "time_unix_nano",
    "level",
    "service",
    "message",
    "attributes",
    "trace_id",
    "client_record_id",
    "receive_unix_nano",
];

/// One page of records and, when more exist, the `(time, id)` key to resume after.
#[derive(Clone, Debug)]
pub struct RecordPage {
    /// Newest first.
    pub records: Vec<StoredRecord>,
    /// The cursor of the last record, when another page exists.
    pub next_after: Option<(i64, i64)>,
}

impl Store {
    /// The page of `app_id`'s records matching `query`, after the cursor `after`.
    pub async fn query_records(
        &self,
        app_id: i64,
        query: &LogQuery,
        after: Option<(i64, i64)>,
    ) -> Result<RecordPage> {
        let col = |name: &str| Expr::col(Alias::new(name));
        let mut cond = Cond::all().add(col("app_id").eq(app_id));
        if query.min_level > 0 {
            cond = cond.add(col("level").gte(query.min_level));
        }
        if let Some(start) = query.start {
            cond = cond.add(col("time_unix_nano").gte(start));
        }
        if let Some(end) = query.end {
            cond = cond.add(col("time_unix_nano").lt(end));
        }
        if let Some(trace_id) = &query.trace_id {
            cond = cond.add(col("trace_id").eq(trace_id.as_str()));
        }
        if let Some(service) = &query.service {
            cond = cond.add(col("service").eq(service.as_str()));
        }
        if let Some(text) = &query.message_contains {
            let pattern = format!("%{}%", escape_like(text));
            cond = cond.add(col("message").like(LikeExpr::new(pattern).escape('\\')));
        }
        if let Some((time, id)) = after {
            // The first bound is implied by the OR below, but planners (SQLite's at least) do
            // not derive an index range from an OR: without it every page rescans the index
            // from the newest record down to the cursor, and a deep walk goes quadratic.
            cond = cond.add(col("time_unix_nano").lte(time)).add(
                Cond::any().add(col("time_unix_nano").lt(time)).add(
                    Cond::all()
                        .add(col("time_unix_nano").eq(time))
                        .add(col("id").lt(id)),
                ),
            );
        }
        // One row more than the page proves that another page exists.
        let select = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(Alias::new("log_records"))
            .cond_where(cond)
            .order_by(Alias::new("time_unix_nano"), Order::Desc)
            .order_by(Alias::new("id"), Order::Desc)
            .limit(query.page_size + 1)
            .to_owned();
        let rows = self.db.query_all(&select).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(StoredRecord {
                record: decode_record(&row)?,
                receive_unix_nano: row.try_get_by_index(9)?,
            });
        }
        let more = records.len() as u64 > query.page_size;
        records.truncate(query.page_size as usize);
        let next_after = if more {
            records
                .last()
                .map(|r| (r.record.time_unix_nano, r.record.id))
        } else {
            None
        };
        Ok(RecordPage {
            records,
            next_after,
        })
    }
}

/// Escapes LIKE's wildcards, so `message_contains` matches its text literally.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
