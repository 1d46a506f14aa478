//! Creates `relay_leases`: one row naming the post-service replica that relays the outbox now
//! (the relay leader) and until when. Seeded free, so taking the lease is a conditional UPDATE
//! on every backend.

use sea_orm_migration::{prelude::*, schema::*};

use super::ddl::{create_table, drop_table, migration, table};

migration! {
    /// Creates `relay_leases` and its one row.
    up(manager) {
        let mut table = table(RelayLeases::Table);
        table
            .col(integer(RelayLeases::Id).primary_key())
            .col(text(RelayLeases::Holder))
            .col(big_integer(RelayLeases::ExpiresAtMs));
        create_table(manager, &mut table).await?;
        let seed = Query::insert()
            .into_table(RelayLeases::Table)
            .columns([
                RelayLeases::Id,
                RelayLeases::Holder,
                RelayLeases::ExpiresAtMs,
            ])
            .values_panic([1.into(), "".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed).await
    }
    down(manager) {
        drop_table(manager, RelayLeases::Table).await
    }
}

/// `relay_leases` and its columns, shared with the store's lease statements.
#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RelayLeases {
    /// `relay_leases`.
    Table,
    /// Always 1: the one lease.
    Id,
    /// Who holds it: a token unique to one process ('' when never taken).
    Holder,
    /// Until when, Unix ms by the holder's clock; 0 when released.
    ExpiresAtMs,
}
