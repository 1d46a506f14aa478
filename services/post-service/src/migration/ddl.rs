//! The DDL the migrations repeat, written once: a table created with the backend's options, a
//! table dropped, an index, a foreign key to a parent's key, the trace columns of an event row,
//! and the `Migration` type each file declares ([`migration!`]).
//! Each helper builds exactly the statement the migrations built by hand, so the schema (and
//! the SQL sent to SQLite, PostgreSQL and MySQL/MariaDB) is the same as before.

use sea_orm_migration::{prelude::*, schema::*};

/// `CREATE TABLE IF NOT EXISTS name (…)`, to be given its columns and passed to
/// [`create_table`].
pub(crate) fn table(name: impl IntoIden) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().to_owned()
}

/// Creates `table` with the backend's table options ([`with_table_options`]).
pub(crate) async fn create_table(
    manager: &SchemaManager<'_>,
    table: &mut TableCreateStatement,
) -> Result<(), DbErr> {
    let table = with_table_options(manager, table.to_owned());
    manager.create_table(table).await
}

/// `DROP TABLE name`.
pub(crate) async fn drop_table(
    manager: &SchemaManager<'_>,
    name: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(name).to_owned())
        .await
}

/// `CREATE INDEX name ON table (columns…)`; the caller adds `unique()` or `if_not_exists()`
/// where the migration always had them.
pub(crate) fn index<C: IntoIden, const N: usize>(
    name: &str,
    table: impl IntoIden,
    columns: [C; N],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index
}

/// A foreign key named `name` from `from.1` of table `from.0` to `to.1` of `to.0`.
pub(crate) fn foreign_key(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

/// The W3C trace columns an event row carries (`traceparent`, `tracestate`), '' when absent.
pub(crate) fn trace_columns(
    table: &mut TableCreateStatement,
    traceparent: impl IntoIden,
    tracestate: impl IntoIden,
) -> &mut TableCreateStatement {
    table
        .col(string_len(traceparent, 64).default(""))
        .col(string_len(tracestate, 512).default(""))
}

/// Table options per backend: MySQL/MariaDB default to a 3-byte utf8 (or latin1) that cannot
/// store emoji, and to case-insensitive comparison that would make `Alice` collide with
/// `alice`'s idempotency keys; the other backends need nothing (and would reject the syntax).
fn with_table_options(
    manager: &SchemaManager,
    mut table: TableCreateStatement,
) -> TableCreateStatement {
    if manager.get_database_backend() == sea_orm::DbBackend::MySql {
        table
            .character_set("utf8mb4")
            .collate("utf8mb4_bin")
            .engine("InnoDB");
    }
    table
}

/// One migration, which sea-orm-migration names after the file it is written in: `up` and
/// `down` are blocks run with the schema manager bound to the name in parentheses. Writes the
/// `Migration` type and its `MigrationTrait` impl every migration file would repeat.
macro_rules! migration {
    (
        $(#[$doc:meta])*
        up($up:ident) $up_body:block
        down($down:ident) $down_body:block
    ) => {
        $(#[$doc])*
        #[derive(sea_orm_migration::prelude::DeriveMigrationName)]
        pub struct Migration;

        #[sea_orm_migration::async_trait::async_trait]
        impl sea_orm_migration::MigrationTrait for Migration {
            async fn up(
                &self,
                $up: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> $up_body

            async fn down(
                &self,
                $down: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> $down_body
        }
    };
}
pub(crate) use migration;
