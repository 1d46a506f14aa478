//! The definition of `node_leases`, one for every service's migration.

use sea_orm::DeriveIden;
use sea_orm::sea_query::{ColumnDef, Table, TableCreateStatement, TableDropStatement};

/// `node_leases` and its columns.
#[derive(DeriveIden, Clone, Copy)]
pub enum NodeLeases {
    /// `node_leases`.
    Table,
    /// The node id (0 to 1023), the key.
    NodeId,
    /// Who holds it: a token unique to one process's lease.
    Holder,
    /// Until when, Unix ms by the holder's clock; expired leases may be taken over.
    ExpiresAtMs,
    /// The highest millisecond an id of this node may carry; a next holder starts after it.
    HighWaterMs,
}

/// The `node_leases` table, for each service's migration (one definition for every service).
pub fn create_table() -> TableCreateStatement {
    Table::create()
        .table(NodeLeases::Table)
        .if_not_exists()
        .col(
            ColumnDef::new(NodeLeases::NodeId)
                .integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(NodeLeases::Holder).text().not_null())
        .col(
            ColumnDef::new(NodeLeases::ExpiresAtMs)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(NodeLeases::HighWaterMs)
                .big_integer()
                .not_null(),
        )
        .to_owned()
}

/// Drops `node_leases`, for the migrations' `down`.
pub fn drop_table() -> TableDropStatement {
    Table::drop()
        .table(NodeLeases::Table)
        .if_exists()
        .to_owned()
}
