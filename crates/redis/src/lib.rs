//! The Redis Cluster as feedline uses it: the key layout that fanout-service writes and
//! feed-read-service reads (`keys`), the rules both follow to write and read it (`timeline`),
//! the settings both read alike, connecting a clustered
//! client and probing its masters, and the connect-then-probe life both services share.

mod config;
mod connect;
mod errors;
mod flush;
pub mod keys;
mod maintain;
pub mod timeline;

pub use config::{
    DEFAULT_POST_CACHE_TTL, DEFAULT_TIMELINE_CAP, DEFAULT_URL, TimelineEnv, URL_SCHEMES, redis_url,
};
pub use connect::{
    DEFAULT_COMMAND_TIMEOUT, Reach, connect, connect_with, ping_masters, probe_masters,
};
pub use errors::{count_error, declare_errors};
pub use flush::flushed_together;
pub use maintain::{Cluster, maintain};
