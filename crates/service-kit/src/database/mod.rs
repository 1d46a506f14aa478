//! What the database-backed services share (behind the `database` feature, so that services
//! without SQL build no sea-orm): the `FEEDLINE_DATABASE_URL` setting, the classification of
//! database errors, on which every retry decision depends, and the pool's use as metrics.

pub mod db_error;
mod pool;
mod url;

pub use db_error::{is_unavailable, is_unique_violation};
pub use pool::{PoolMetrics, pool_metrics};
pub use url::database_url;
