//! Connecting to the Redis Cluster.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike as _, Config, Error, ReconnectPolicy};

/// Connects a clustered client to `url` and waits until it is ready (at most 10 s). Commands get
/// a 5 s timeout, so a node that stops answering fails an event (which is then retried) instead
/// of hanging it; broken connections are re-established with capped exponential backoff.
pub async fn connect(url: &str) -> Result<Client, Error> {
    let config = Config::from_url(url)?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(3);
            c.internal_command_timeout = Duration::from_secs(3);
            c.max_command_attempts = 3;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = Duration::from_secs(5);
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build()?;
    match tokio::time::timeout(Duration::from_secs(10), client.init()).await {
        Ok(Ok(_connection_task)) => Ok(client),
        Ok(Err(error)) => Err(error),
        Err(_) => {
            let _ = client.quit().await;
            Err(Error::new(
                fred::error::ErrorKind::Timeout,
                "cluster not ready within 10 s",
            ))
        }
    }
}
