//! The SQL the migrations share: running a `;`-separated script, and a table created with its
//! indexes in each backend's dialect.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

/// Runs each statement of `sql` (separated by `;`) on the manager's connection.
pub(super) async fn execute_all(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
    }
    Ok(())
}

/// An index of a table made by [`create_table`]: `{table}_{suffix}` on `columns`.
pub(super) struct TableIndex {
    suffix: &'static str,
    unique: bool,
    columns: &'static str,
}

impl TableIndex {
    /// An index that allows repeated values.
    pub(super) const fn plain(suffix: &'static str, columns: &'static str) -> Self {
        Self {
            suffix,
            unique: false,
            columns,
        }
    }

    /// A unique index.
    pub(super) const fn unique(suffix: &'static str, columns: &'static str) -> Self {
        Self {
            suffix,
            unique: true,
            columns,
        }
    }
}

/// `CREATE TABLE table (columns)` with `indexes`, in `backend`'s dialect: MySQL declares the
/// indexes inside the table, which is utf8mb4 with a binary collation (every character stored,
/// names compared exactly); the other backends take one `CREATE INDEX` statement per index.
pub(super) fn create_table(
    backend: DbBackend,
    table: &str,
    columns: &str,
    indexes: &[TableIndex],
) -> String {
    let columns = columns.trim();
    if backend == DbBackend::MySql {
        let keys: String = indexes
            .iter()
            .map(|i| {
                let unique = if i.unique { "UNIQUE " } else { "" };
                format!(",\n    {unique}KEY {table}_{} ({})", i.suffix, i.columns)
            })
            .collect();
        return format!(
            "CREATE TABLE {table} (\n    {columns}{keys}\n) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        );
    }
    let mut sql = format!("CREATE TABLE {table} (\n    {columns}\n)");
    for i in indexes {
        let unique = if i.unique { "UNIQUE " } else { "" };
        sql += &format!(
            ";\nCREATE {unique}INDEX {table}_{} ON {table} ({})",
            i.suffix, i.columns
        );
    }
    sql
}
