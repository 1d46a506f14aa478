//! Typed configuration read from an environment map, validated before any port is bound: the
//! map ([`Env`]), the readers of one variable ([`parse_or`] and its kin), the server's own
//! settings ([`ServerConfig`]) and the auth settings every server and client reads.

mod auth;
mod env;
mod parse;
mod server;
#[cfg(test)]
mod tests;

pub use auth::{auth_from_env, credential_from_env};
pub use env::{Env, process_env};
pub use parse::{ConfigError, check_range, millis_or, parse_or, ranged_or, url_or};
pub use server::ServerConfig;
