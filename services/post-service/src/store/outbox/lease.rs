//! The relay leader lease: which replica relays the outbox.

use sea_orm::ConnectionTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};

use crate::error::Result;
use crate::migration::m20261207_000010_create_relay_leases::RelayLeases;
use crate::store::Store;

/// The relay leader lease (`relay_leases`, one row): plain conditional UPDATEs that behave alike
/// on SQLite, PostgreSQL and MySQL, so of two replicas racing, exactly one matches.
impl Store {
    /// Takes the relay lease for `holder` until `expires_at_ms`, or renews it: matches when
    /// `holder` holds it already or it expired before `now_ms` (released leases expire at 0).
    /// `false`: another replica holds it.
    pub async fn take_relay_lease(
        &self,
        holder: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool> {
        let update = Query::update()
            .table(RelayLeases::Table)
            .value(RelayLeases::Holder, holder)
            .value(RelayLeases::ExpiresAtMs, expires_at_ms)
            .and_where(Expr::col(RelayLeases::Id).eq(1))
            .and_where(
                Expr::col(RelayLeases::Holder)
                    .eq(holder)
                    .or(Expr::col(RelayLeases::ExpiresAtMs).lt(now_ms)),
            )
            .to_owned();
        let _gate = self.write_gate().await;
        // MySQL counts matched rows, not changed ones: sqlx connects with CLIENT_FOUND_ROWS.
        Ok(self.db.execute(&update).await?.rows_affected() == 1)
    }

    /// Gives the relay lease up at once if `holder` holds it, so a standby takes over without
    /// waiting for it to expire.
    pub async fn release_relay_lease(&self, holder: &str) -> Result<()> {
        let update = Query::update()
            .table(RelayLeases::Table)
            .value(RelayLeases::ExpiresAtMs, 0i64)
            .and_where(Expr::col(RelayLeases::Id).eq(1))
            .and_where(Expr::col(RelayLeases::Holder).eq(holder))
            .to_owned();
        let _gate = self.write_gate().await;
        self.db.execute(&update).await?;
        Ok(())
    }
}
