//! Timelines in the Redis Cluster: the domain of fan-out on write (no gRPC server here).
//!
//! [`Timelines::apply`] applies one `FanoutEvent` with idempotent, per-node pipelined writes;
//! a missing follower index or author list is rebuilt from a [`GraphSource`] (post-service).
//! What each event writes and reads, key by key (the sentinel, the trim, `SET NX`, the TTL), is
//! `feedline_redis::timeline`, which the read side follows too; this module decides which of
//! those writes an event makes and batches them.
//!
//! - `store`: the [`Timelines`] handle, dispatch, reads and the health ping.
//! - `deliver`, `retract`, `follow`: one event kind each.
//! - `index`: the per-author lists (`ap:`, `fl:`) and their rebuild.
//! - `pipeline`: grouping writes per cluster node.
//! - `replication`: the optional `WAIT` for replicas before an event counts as applied.
//! - `source`: [`GraphSource`] and its post-service implementation.

mod config;
mod deliver;
mod error;
mod follow;
mod index;
mod pipeline;
mod replication;
mod retract;
mod source;
mod store;

pub use config::TimelineConfig;
pub use deliver::GroupApplied;
pub use error::TimelineError;
pub use replication::ReplicationWait;
pub use source::{GraphSource, PostServiceSource};
pub use store::{Applied, Timelines};
