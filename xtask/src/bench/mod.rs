//! `cargo xtask bench <scenario>`: each scenario measures a service next to the raw speed of the
//! store beneath it, in the same run on the same machine, so the ratio means something.

mod fanout;
mod feed;
mod logs;
mod process;

pub use fanout::{FanoutBench, run as run_fanout};
pub use feed::{FeedBench, run as run_feed};
pub use logs::{LogsBench, run as run_logs};
