//! Dev-only: feedline's services started in one process for cross-service tests and for each
//! service's own tests, each on an ephemeral port, over a throwaway Redis Cluster and fresh
//! databases (SQLite unless asked otherwise), healthy before use.
//!
//! [`StackBuilder`] chooses the services, their databases and extra variables, and starts the
//! whole stack ([`Stack`]) or only some services ([`Services`]: post-service alone for its own
//! tests, say); both hold what runs and stop it in order; [`Running`] is one service task.
//! A test's own helpers (readers, waits) live beside the test, in a type that wraps the
//! [`Stack`] and dereferences to it ([`deref_to_stack!`]).

mod builder;
mod extend;
mod launch;
mod running;
mod services;
mod stack;

pub use builder::{AUDIENCE, ISSUER, Service, StackBuilder};
pub use running::Running;
pub use services::Services;
pub use stack::Stack;
