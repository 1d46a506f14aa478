//! The Redis Cluster as feedline uses it: the key layout that fanout-service writes and
//! feed-read-service reads (`keys`), the settings both read alike, connecting a clustered
//! client and probing its masters.

mod config;
mod connect;
pub mod keys;

pub use config::{
    DEFAULT_POST_CACHE_TTL, DEFAULT_TIMELINE_CAP, DEFAULT_URL, TimelineEnv, URL_SCHEMES,
};
pub use connect::{connect, ping_masters};
