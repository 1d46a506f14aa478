//! The database pool's use as metrics (`db.client.connection.count` and `.max`, as
//! OpenTelemetry names them), read from the sqlx pool under a sea-orm connection.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use opentelemetry::KeyValue;
use opentelemetry::metrics::ObservableUpDownCounter;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx;

/// A pool reported by the connection metrics while this handle lives: keep it with the
/// connection (a clone keeps it too). The metrics hold no reference of their own to the pool, so
/// they never keep its connections open.
#[derive(Clone, Debug)]
pub struct PoolMetrics {
    _entry: Option<Arc<Observed>>,
}

/// One pool's sqlx handle and name.
#[derive(Debug)]
struct Observed {
    name: &'static str,
    pool: AnyPool,
}

/// The sqlx pool under a sea-orm connection.
#[derive(Debug)]
enum AnyPool {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

impl AnyPool {
    fn of(db: &DatabaseConnection) -> Option<Self> {
        use sea_orm::DatabaseConnectionType as Type;
        // Matched first: the accessors panic on another backend.
        match &db.inner {
            Type::SqlxPostgresPoolConnection(_) => {
                Some(Self::Postgres(db.get_postgres_connection_pool().clone()))
            }
            Type::SqlxMySqlPoolConnection(_) => {
                Some(Self::MySql(db.get_mysql_connection_pool().clone()))
            }
            Type::SqlxSqlitePoolConnection(_) => {
                Some(Self::Sqlite(db.get_sqlite_connection_pool().clone()))
            }
            _ => None,
        }
    }

    /// (connections open, of which idle, the most it opens); `None` once closed.
    fn usage(&self) -> Option<(u32, u32, u32)> {
        fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Option<(u32, u32, u32)> {
            if pool.is_closed() {
                return None;
            }
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            Some((pool.size(), idle, pool.options().get_max_connections()))
        }
        match self {
            Self::Postgres(pool) => of(pool),
            Self::MySql(pool) => of(pool),
            Self::Sqlite(pool) => of(pool),
        }
    }
}

/// The pools observed in this process (one per database-backed service; tests run several).
static POOLS: Mutex<Vec<Weak<Observed>>> = Mutex::new(Vec::new());

/// Reports `db`'s pool, named `name` (`db.client.connection.pool.name`), in
/// `db.client.connection.count` (by `db.client.connection.state`: `idle` or `used`) and
/// `db.client.connection.max`, until the returned handle and its clones are dropped or the pool
/// is closed. The instruments are registered with the global meter provider on the first call.
pub fn pool_metrics(name: &'static str, db: &DatabaseConnection) -> PoolMetrics {
    let Some(pool) = AnyPool::of(db) else {
        return PoolMetrics { _entry: None };
    };
    let entry = Arc::new(Observed { name, pool });
    {
        let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(&entry));
    }
    register_pool_instruments();
    PoolMetrics {
        _entry: Some(entry),
    }
}

/// Each live, open pool: its name and (open, idle, max).
fn pool_usage() -> Vec<(&'static str, (u32, u32, u32))> {
    let pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    pools
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|p| Some((p.name, p.pool.usage()?)))
        .collect()
}

fn register_pool_instruments() {
    const POOL_NAME: &str = "db.client.connection.pool.name";
    const STATE: &str = "db.client.connection.state";
    static INSTRUMENTS: OnceLock<[ObservableUpDownCounter<i64>; 2]> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("feedline-service-kit");
        let count = meter
            .i64_observable_up_down_counter("db.client.connection.count")
            .with_unit("{connection}")
            .with_description("connections of the database pool, by state (idle or used)")
            .with_callback(|observer| {
                for (name, (open, idle, _)) in pool_usage() {
                    let used = i64::from(open.saturating_sub(idle));
                    let pool = KeyValue::new(POOL_NAME, name);
                    observer.observe(
                        i64::from(idle),
                        &[pool.clone(), KeyValue::new(STATE, "idle")],
                    );
                    observer.observe(used, &[pool, KeyValue::new(STATE, "used")]);
                }
            })
            .build();
        let max = meter
            .i64_observable_up_down_counter("db.client.connection.max")
            .with_unit("{connection}")
            .with_description("the most connections the database pool opens")
            .with_callback(|observer| {
                for (name, (_, _, max)) in pool_usage() {
                    observer.observe(i64::from(max), &[KeyValue::new(POOL_NAME, name)]);
                }
            })
            .build();
        [count, max]
    });
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    #[tokio::test]
    async fn a_pool_is_reported_while_its_handle_lives_and_it_is_open() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let metrics = pool_metrics("pool-test", &db);
        let ours = || {
            pool_usage()
                .into_iter()
                .find(|(name, _)| *name == "pool-test")
        };
        let (_, (open, idle, max)) = ours().expect("reported");
        assert!(
            open >= 1 && idle <= open && max >= open,
            "{open} {idle} {max}"
        );
        let clone = metrics.clone();
        drop(metrics);
        assert!(ours().is_some(), "a clone keeps it");
        drop(clone);
        assert!(ours().is_none(), "gone with its handles");

        let metrics = pool_metrics("pool-test", &db);
        db.close_by_ref().await.unwrap();
        assert!(ours().is_none(), "a closed pool is not reported");
        drop(metrics);
    }
}
