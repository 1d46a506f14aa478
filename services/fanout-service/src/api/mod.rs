//! The `Fanout` stream: receives events from the outbox relay, applies each author's events in
//! order on a lane, answers every event once.

mod handler;
mod lanes;
mod session;

pub use handler::{AppState, FanoutApi};
