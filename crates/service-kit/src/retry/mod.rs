//! Outgoing calls: their deadline, derived from the inbound call's, and the one retry helper
//! (full-jitter exponential backoff, a retry budget shared per dependency, no sleep past the
//! deadline).
//!
//! The deadline rule: an outgoing gRPC, Redis or SQL call made while serving a call gets
//! [`outgoing_timeout`]`(default)`: the smaller of its own per-call default and what is left of
//! the inbound deadline less [`DEADLINE_MARGIN`] (kept to send the answer back). The inbound
//! deadline is the earlier of the caller's `grpc-timeout` and the server's request timeout
//! (`FEEDLINE_REQUEST_TIMEOUT_MS`), set by [`crate::layers::DeadlineLayer`] for the handler's
//! task. Work with no inbound call (fan-out index rebuilds, the log writer, a task spawned off
//! a handler) has no inbound deadline and uses the fixed per-call default.
//!
//! The budget is gRPC's and Finagle's token bucket: each first attempt deposits
//! [`BUDGET_RATIO`] of a token, each retry withdraws a whole one, the bucket holds at most
//! [`BUDGET_CAP`]. An empty bucket means no retry: the error goes back at once. The bucket
//! starts empty, so retries never exceed 20% of the calls made since start (over any later
//! window, 20% plus the cap saved in quiet times): a failing dependency sees at most 1.2x the calls it would see without retries, never the
//! `max_attempts`x of a plain retry loop, however many callers it has.
//!
//! The backoff is hand-written rather than taken from `backon` or `backoff`: it is three lines
//! of arithmetic, and neither crate has a budget or reads the inbound deadline, the two things
//! this module is for.

mod budget;
mod deadline;
mod policy;
#[cfg(test)]
mod tests;

pub use budget::{Backoff, RetryBudget};
pub use deadline::{
    DEADLINE_MARGIN, TimedOut, grpc_timeout, inbound_deadline, is_retryable_status,
    outgoing_request, outgoing_timeout, with_deadline, within,
};
pub use policy::RetryPolicy;

/// What a first attempt deposits in the budget, in tokens: retries are at most this share of
/// first attempts.
pub const BUDGET_RATIO: f64 = 0.2;
/// The most tokens a budget holds: how many retries a burst of failures after a quiet time may
/// take before the ratio binds.
pub const BUDGET_CAP: u64 = 10;
