//! The `node_leases` table and its statements: which replica holds which node id until when,
//! and the highest millisecond any holder of a node id may have stamped an id with. Written as
//! plain conditional INSERTs and UPDATEs that behave alike on SQLite, PostgreSQL and MySQL:
//! of two replicas racing for one node id, exactly one statement matches and the other replica
//! tries the next id.

mod table;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use super::{Clock, MAX_NODE_ID};
use crate::config::{ConfigError, Env, ranged_or};
use crate::database::{is_unavailable, is_unique_violation};

pub use table::{NodeLeases, create_table, drop_table};

/// How node ids are leased: `FEEDLINE_NODE_ID`, `FEEDLINE_NODE_LEASE_TTL_SECS`,
/// `FEEDLINE_NODE_CLOCK_WAIT_MS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Lease only this node id (and fail the start while another live replica holds it);
    /// `None` leases the lowest free one.
    pub pinned: Option<u16>,
    /// How long a lease lasts unrenewed; renewed every third of it. Also how far ahead of the
    /// clock each renewal reserves milliseconds.
    pub ttl: Duration,
    /// How far the clock may be behind a node id's high-water mark at acquisition: the start
    /// waits that long at most, and fails beyond it.
    pub max_clock_wait: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            pinned: None,
            ttl: Duration::from_secs(30),
            max_clock_wait: Duration::from_secs(5),
        }
    }
}

impl LeaseSettings {
    /// Reads and validates the lease settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let pinned: Option<u16> = match env.get("FEEDLINE_NODE_ID").map(|v| v.trim()) {
            None | Some("") => None,
            Some(_) => {
                let id = ranged_or(env, "FEEDLINE_NODE_ID", 0u16, 0..=MAX_NODE_ID)?;
                Some(id)
            }
        };
        let ttl = ranged_or(
            env,
            "FEEDLINE_NODE_LEASE_TTL_SECS",
            defaults.ttl.as_secs(),
            3..=3600,
        )?;
        let wait = ranged_or(
            env,
            "FEEDLINE_NODE_CLOCK_WAIT_MS",
            defaults.max_clock_wait.as_millis() as u64,
            0..=600_000,
        )?;
        Ok(Self {
            pinned,
            ttl: Duration::from_secs(ttl),
            max_clock_wait: Duration::from_millis(wait),
        })
    }

    /// The defaults, leasing only `node_id`.
    pub fn pinned(node_id: u16) -> Self {
        Self {
            pinned: Some(node_id),
            ..Self::default()
        }
    }

    pub(super) fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }
}

/// Why a node id could not be leased.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// Retrying cannot help: the clock is too far behind the mark, or the pinned id is held.
    /// The start fails.
    #[error("{0}")]
    Fatal(String),
    /// The database failed or every node id is held; worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

impl From<DbErr> for LeaseError {
    fn from(err: DbErr) -> Self {
        Self::Unavailable(format!("node lease: {err}"))
    }
}

/// A lease just won.
#[derive(Clone, Copy, Debug)]
pub(super) struct Won {
    pub node_id: u16,
    /// The first millisecond this holder may use: after the previous holder's mark.
    pub start_ms: i64,
    /// The mark persisted with the lease: the last millisecond this holder may use for now.
    pub limit_ms: i64,
}

/// What a lease row is set to: until when it is held, and its mark.
#[derive(Clone, Copy, Debug)]
pub(super) struct Terms {
    /// Until when, Unix ms; 0 frees the node id at once.
    pub expires_at_ms: i64,
    /// The highest millisecond an id of the node may carry.
    pub high_water_ms: i64,
}

/// One row as read.
struct Row {
    node_id: u16,
    holder: String,
    expires_at_ms: i64,
    high_water_ms: i64,
}

/// A holder token unique to this process and lease.
pub(super) fn new_holder() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("pid{}-{nanos:x}-{n}", std::process::id())
}

/// Takes the lowest node id (or the pinned one) whose lease is free or expired, by a
/// conditional write on what was read: a concurrent winner makes it match nothing, and the
/// next id is tried.
pub(super) async fn acquire(
    db: &DatabaseConnection,
    settings: &LeaseSettings,
    holder: &str,
    clock: &dyn Clock,
) -> Result<Won, LeaseError> {
    // Each lost race means another replica took an id; there are only so many.
    for _ in 0..=(usize::from(MAX_NODE_ID) + 1) * 2 {
        let now = clock.now_ms();
        let rows = read_all(db).await?;
        let (node_id, current) = pick(&rows, settings.pinned, now)?;
        let high_water = current.map_or(i64::MIN, |r| r.high_water_ms);
        let start_ms = now.max(high_water.saturating_add(1));
        let behind = start_ms - now;
        if behind > settings.max_clock_wait.as_millis() as i64 {
            return Err(LeaseError::Fatal(format!(
                "the clock is {behind} ms behind node id {node_id}'s high-water mark \
                 ({high_water}), more than FEEDLINE_NODE_CLOCK_WAIT_MS allows: ids could repeat"
            )));
        }
        let limit_ms = start_ms + settings.ttl_ms();
        let terms = Terms {
            expires_at_ms: now + settings.ttl_ms(),
            high_water_ms: limit_ms,
        };
        let won = match current {
            None => insert(db, node_id, holder, terms).await?,
            Some(row) => take_over(db, row, holder, terms).await?,
        };
        if won {
            return Ok(Won {
                node_id,
                start_ms,
                limit_ms,
            });
        }
    }
    Err(LeaseError::Unavailable(
        "node lease: lost every race for a node id".into(),
    ))
}

/// The node id to try and its row (`None`: never leased).
fn pick(rows: &[Row], pinned: Option<u16>, now: i64) -> Result<(u16, Option<&Row>), LeaseError> {
    let free = |id: u16| match rows.iter().find(|r| r.node_id == id) {
        None => Some(None),
        Some(row) if row.expires_at_ms < now => Some(Some(row)),
        Some(_) => None,
    };
    if let Some(id) = pinned {
        return match free(id) {
            Some(row) => Ok((id, row)),
            None => {
                let row = rows.iter().find(|r| r.node_id == id);
                Err(LeaseError::Fatal(format!(
                    "FEEDLINE_NODE_ID {id} is leased by another live replica ({}) for {} ms more",
                    row.map_or("?", |r| r.holder.as_str()),
                    row.map_or(0, |r| r.expires_at_ms - now),
                )))
            }
        };
    }
    (0..=MAX_NODE_ID)
        .find_map(|id| free(id).map(|row| (id, row)))
        .ok_or_else(|| LeaseError::Unavailable("every node id (0 to 1023) is leased".into()))
}

async fn read_all(db: &DatabaseConnection) -> Result<Vec<Row>, DbErr> {
    let sql = "SELECT node_id, holder, expires_at_ms, high_water_ms FROM node_leases";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    rows.into_iter()
        .map(|r| {
            let node_id: i32 = r.try_get_by_index(0)?;
            Ok(Row {
                node_id: node_id.clamp(0, i32::from(MAX_NODE_ID)) as u16,
                holder: r.try_get_by_index(1)?,
                expires_at_ms: r.try_get_by_index(2)?,
                high_water_ms: r.try_get_by_index(3)?,
            })
        })
        .collect()
}

/// Leases a node id never leased before; a unique violation means another replica did first.
async fn insert(
    db: &DatabaseConnection,
    node_id: u16,
    holder: &str,
    terms: Terms,
) -> Result<bool, DbErr> {
    let sql = "INSERT INTO node_leases (node_id, holder, expires_at_ms, high_water_ms) \
               VALUES (?, ?, ?, ?)";
    let values = [
        Value::Int(Some(i32::from(node_id))),
        holder.into(),
        terms.expires_at_ms.into(),
        terms.high_water_ms.into(),
    ];
    match execute(db, sql, values).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes over an expired lease, only if the row is still exactly as read.
async fn take_over(
    db: &DatabaseConnection,
    row: &Row,
    holder: &str,
    terms: Terms,
) -> Result<bool, DbErr> {
    let sql = "UPDATE node_leases SET holder = ?, expires_at_ms = ?, high_water_ms = ? \
               WHERE node_id = ? AND holder = ? AND expires_at_ms = ? AND high_water_ms = ?";
    let values = [
        holder.into(),
        terms.expires_at_ms.into(),
        terms.high_water_ms.into(),
        Value::Int(Some(i32::from(row.node_id))),
        row.holder.as_str().into(),
        row.expires_at_ms.into(),
        row.high_water_ms.into(),
    ];
    Ok(execute(db, sql, values).await? == 1)
}

/// Sets `holder`'s lease of `node_id` to `terms`; `false` when it is not the holder any more
/// (the lease expired and was taken over).
pub(super) async fn renew(
    db: &DatabaseConnection,
    node_id: u16,
    holder: &str,
    terms: Terms,
) -> Result<bool, DbErr> {
    let sql = "UPDATE node_leases SET expires_at_ms = ?, high_water_ms = ? \
               WHERE node_id = ? AND holder = ?";
    let values = [
        terms.expires_at_ms.into(),
        terms.high_water_ms.into(),
        Value::Int(Some(i32::from(node_id))),
        holder.into(),
    ];
    Ok(execute(db, sql, values).await? == 1)
}

/// Gives the lease up at once. The mark comes down to the last millisecond really used (no id
/// past it exists), so a restart takes the node id again without waiting for the reservation.
pub(super) async fn release(
    db: &DatabaseConnection,
    node_id: u16,
    holder: &str,
    last_used_ms: i64,
) -> Result<bool, DbErr> {
    let terms = Terms {
        expires_at_ms: 0,
        high_water_ms: last_used_ms,
    };
    renew(db, node_id, holder, terms).await
}

/// Runs `sql` (written with `?` marks) and returns the rows it matched. MySQL counts matched
/// rows too: sqlx connects with CLIENT_FOUND_ROWS.
async fn execute<const N: usize>(
    db: &DatabaseConnection,
    sql: &str,
    values: [Value; N],
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => numbered(sql),
        _ => sql.to_owned(),
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(done.rows_affected())
}

/// `?` marks as PostgreSQL's `$1`, `$2`, ...
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a lease statement failed because the database is out of reach (worth a quiet retry).
pub(super) fn unreachable(err: &DbErr) -> bool {
    is_unavailable(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node_id: u16, expires_at_ms: i64) -> Row {
        Row {
            node_id,
            holder: "h".into(),
            expires_at_ms,
            high_water_ms: 0,
        }
    }

    #[test]
    fn picks_the_lowest_free_or_expired_id() {
        let rows = [row(0, 100), row(1, 5), row(2, 100)];
        assert_eq!(pick(&rows, None, 10).unwrap().0, 1);
        assert_eq!(pick(&rows, None, 200).unwrap().0, 0);
        assert_eq!(pick(&rows[..1], None, 10).unwrap().0, 1);
        assert!(matches!(
            pick(&rows, Some(2), 10),
            Err(LeaseError::Fatal(m)) if m.contains("FEEDLINE_NODE_ID 2")
        ));
        assert_eq!(pick(&rows, Some(7), 10).unwrap().0, 7);
    }

    #[test]
    fn settings_read_and_validated() {
        let s = LeaseSettings::from_env(&Env::new()).unwrap();
        assert_eq!(s, LeaseSettings::default());
        let env: Env = [("FEEDLINE_NODE_ID".to_owned(), "12".to_owned())].into();
        assert_eq!(LeaseSettings::from_env(&env).unwrap().pinned, Some(12));
        for (name, bad) in [
            ("FEEDLINE_NODE_ID", "1024"),
            ("FEEDLINE_NODE_LEASE_TTL_SECS", "1"),
            ("FEEDLINE_NODE_CLOCK_WAIT_MS", "x"),
        ] {
            let env: Env = [(name.to_owned(), bad.to_owned())].into();
            assert_eq!(LeaseSettings::from_env(&env).unwrap_err().variable, name);
        }
    }

    #[test]
    fn numbers_marks_for_postgres() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
