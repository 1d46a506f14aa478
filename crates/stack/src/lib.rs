//! Dev-only: feedline's services started in one process for cross-service tests, each on an
//! ephemeral port, over a throwaway Redis Cluster and SQLite databases, healthy before use.
//!
//! [`StackBuilder`] chooses the services and their extra variables and starts them;
//! [`Stack`] holds what runs and stops it in order; [`Running`] is one service task.
//! A test's own helpers (readers, waits) live beside the test, in a type that wraps the
//! [`Stack`] and dereferences to it ([`deref_to_stack!`]).

mod builder;
mod extend;
mod running;
mod stack;

pub use builder::{AUDIENCE, ISSUER, Service, StackBuilder};
pub use running::Running;
pub use stack::Stack;
