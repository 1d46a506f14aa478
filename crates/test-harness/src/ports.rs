//! Loopback ports for tests and `cargo xtask up`: a listener on an ephemeral port to hand to a
//! server's `run()`, or a free address for a child process to bind itself.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, Result};
use tokio::net::TcpListener;

/// Binds 127.0.0.1:0 and returns the listener, to hand to a server's `run()`.
pub async fn ephemeral_listener() -> Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding 127.0.0.1:0")
}

/// A loopback address free right now, for a process that binds it itself: the kernel picks
/// the port for a listener dropped at once (`.port()` for the port alone). Another process may
/// take it before the child binds; a server handed a listener ([`ephemeral_listener`]) cannot
/// lose it.
pub fn free_addr() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("binding 127.0.0.1:0 for a free port")?;
    Ok(listener.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_addr_is_on_loopback_with_a_port() {
        let addr = free_addr().unwrap();
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
    }
}
