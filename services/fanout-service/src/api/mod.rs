//! The `Fanout` stream: receives events from the outbox relay, applies each author's events in
//! order while grouping what commutes across authors, answers every event once.
//!
//! - `session`: one stream: read, bound, forward acks.
//! - `window`: the bound on unanswered events, in events and in bytes.
//! - `order`: what may run now (per-key order, grouping); no I/O.
//! - `group`: which event kinds are applied together, in groups.
//! - `scheduler`: runs the units `order` allows as tasks.
//! - `apply`: one unit against the timelines, with spans, retries and acks.
//! - `replay`: replay requests waiting for a stream to carry them to a relay.

mod apply;
mod group;
mod handler;
mod order;
pub mod replay;
mod scheduler;
mod session;
mod validate;
mod window;

pub use handler::{AppState, DEFAULT_MAX_UNACKED_BYTES, FanoutApi, MAX_REQUEST_BYTES};
