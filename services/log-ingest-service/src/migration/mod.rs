//! The schema of log-ingest-service, one migration per file, applied at startup.
//!
//! Written as SQL per backend rather than through the schema builder: the table exists to be
//! written in bulk and read by time range, so its exact types and indexes are the design.

use sea_orm_migration::prelude::*;

mod ddl;
mod m20261122_000001_create_apps;
mod m20261122_000002_create_log_records;
mod m20261207_000003_create_app_keys;
mod m20261207_000004_create_node_leases;

pub use m20261122_000002_create_log_records::create_log_records;

/// Applies log-ingest-service's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_apps::Migration),
            Box::new(m20261122_000002_create_log_records::Migration),
            Box::new(m20261207_000003_create_app_keys::Migration),
            Box::new(m20261207_000004_create_node_leases::Migration),
        ]
    }

    fn migration_table_name() -> sea_orm::DynIden {
        // Its own table, so the service can share a database with post-service.
        "seaql_migrations_log_ingest".into()
    }
}
