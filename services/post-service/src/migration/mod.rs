//! Schema migrations, applied at start on SQLite, PostgreSQL and MySQL/MariaDB alike.
//! One migration per file: sea-orm-migration names a migration after its file.

use sea_orm_migration::prelude::*;

mod ddl;
mod m20261121_000001_create_users;
mod m20261121_000002_create_follows;
mod m20261121_000003_create_posts;
mod m20261121_000004_create_outbox;
mod m20261207_000005_bind_users_to_subjects;
pub(crate) mod m20261207_000006_create_outbox_applied;
mod m20261207_000007_create_node_leases;
pub(crate) mod m20261207_000008_create_outbox_dead;
pub(crate) mod m20261207_000009_add_outbox_ordering_key;
pub(crate) mod m20261207_000010_create_relay_leases;
#[cfg(test)]
mod schema_tests;

/// Every migration of post-service, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users::Migration),
            Box::new(m20261121_000002_create_follows::Migration),
            Box::new(m20261121_000003_create_posts::Migration),
            Box::new(m20261121_000004_create_outbox::Migration),
            Box::new(m20261207_000005_bind_users_to_subjects::Migration),
            Box::new(m20261207_000006_create_outbox_applied::Migration),
            Box::new(m20261207_000007_create_node_leases::Migration),
            Box::new(m20261207_000008_create_outbox_dead::Migration),
            Box::new(m20261207_000009_add_outbox_ordering_key::Migration),
            Box::new(m20261207_000010_create_relay_leases::Migration),
        ]
    }
}
