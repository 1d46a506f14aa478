//! The fan-out measured from the outside, in the Redis Cluster that fanout-service writes:
//! which posts were acknowledged (`posts`), watching for a post in every follower's timeline
//! (`watch`), the lag of sampled posts (`lag`) and the recovery of that lag after a master is
//! killed (`recovery`), and after the load the drain and the final completeness check
//! (`check`).

pub mod check;
pub mod follows;
pub mod lag;
pub mod posts;
pub mod raw;
pub mod recovery;
pub mod watch;

pub use posts::{Acked, PostLog, Sample};
pub use watch::Watch;
