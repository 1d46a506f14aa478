//! What every feedline server shares: typed configuration from the environment, the inbound
//! tower stack, gRPC health and reflection, field-violation errors, and the shutdown sequence.
//!
//! A service's `lib.rs` builds its routes and calls [`serve`]; its `main.rs` reads config with
//! [`process_env`], binds, and hands a [`shutdown_on_signals`] token to `run`; [`launch`] does
//! all of that, and answers the `healthcheck` subcommand with [`healthcheck::check`].
//!
//! The feature `database` adds what the SQL-backed services share (`database`, the leased
//! `ids`) and, with it, sea-orm and its sqlx drivers; services without SQL leave it off.

mod cli;
pub mod config;
mod connect;
mod connections;
#[cfg(feature = "database")]
pub mod database;
mod errors;
mod health;
pub mod healthcheck;
#[cfg(feature = "database")]
pub mod ids;
mod launch;
pub mod layers;
pub mod page_token;
pub mod retry;
mod server;
mod shutdown;
pub mod status;
pub mod tls;
pub mod validation;

pub use config::{ConfigError, Env, ServerConfig, process_env};
pub use connect::{ClientChannel, Outbound, client_channel, connect_with_backoff, lazy_channel};
pub use errors::with_causes;
/// Bearer tokens: the verifier, the caller, the credential a client presents.
pub use feedline_auth as auth;
pub use health::Health;
pub use launch::launch;
pub use retry::{
    Backoff, RetryBudget, RetryPolicy, grpc_timeout, inbound_deadline, is_retryable_status,
    outgoing_request, outgoing_timeout, with_deadline,
};
pub use server::{ServeError, serve};
pub use shutdown::shutdown_on_signals;
pub use tls::TlsConfig;
pub use tokio_util::sync::CancellationToken;

/// Exit code for a configuration error, as linkerd2-proxy does (BSD `EX_USAGE`): an orchestrator
/// tells it apart from a crash and does not restart in a tight loop for nothing.
pub const EXIT_CONFIG: i32 = 64;
