//! Connecting to the Redis Cluster, and probing every master for the health check.

use std::time::Duration;

use feedline_service_kit::TlsConfig;
use fred::interfaces::ClusterInterface as _;
use fred::prelude::{Builder, Client, ClientLike as _, Config, Error, ReconnectPolicy};
use fred::types::config::Options;
use futures::future::join_all;

/// How long a health probe waits for each master's PONG.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects a clustered client to `url` and waits until it is ready (at most 10 s). Commands get
/// a 5 s timeout, so a node that stops answering fails an event (which is then retried) instead
/// of hanging it; broken connections are re-established with capped exponential backoff.
/// A `rediss-cluster://` URL connects with TLS to every node (ElastiCache in-transit
/// encryption), verifying each node's certificate against the public web roots and
/// `FEEDLINE_TLS_CA` (`tls`), for the host or IP the cluster announces.
pub async fn connect(url: &str, tls: &TlsConfig) -> Result<Client, Error> {
    let mut config = Config::from_url(url)?;
    if config.uses_tls() {
        config.tls = Some(rustls_config(tls)?);
    }
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

/// The TLS connector: rustls on ring (the tree's one provider), public roots plus the extra CA.
fn rustls_config(tls: &TlsConfig) -> Result<fred::types::config::TlsConfig, Error> {
    let tls_error = |e: rustls::Error| Error::new(fred::error::ErrorKind::Tls, e.to_string());
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in tls.extra_roots() {
        roots.add(root).map_err(tls_error)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(fred::types::config::TlsConfig {
        connector: config.into(),
        hostnames: fred::types::config::TlsHostMapping::None,
    })
}

/// PINGs every master in the cached routing table; Err if any does not answer within 2 s (or
/// no routing table is known yet). For health probes.
pub async fn ping_masters(redis: &Client) -> Result<(), Error> {
    let masters = redis
        .cached_cluster_state()
        .map(|routing| routing.unique_primary_nodes())
        .unwrap_or_default();
    if masters.is_empty() {
        return Err(Error::new(
            fred::error::ErrorKind::Cluster,
            "no cluster routing table yet",
        ));
    }
    let pings = masters.into_iter().map(|server| {
        // One attempt and a deadline: a probe must answer, not queue behind a reconnect.
        let options = Options {
            cluster_node: Some(server),
            timeout: Some(PING_TIMEOUT),
            max_attempts: Some(1),
            fail_fast: true,
            ..Options::default()
        };
        async move { redis.with_options(&options).ping::<()>(None).await }
    });
    for reply in join_all(pings).await {
        reply?;
    }
    Ok(())
}
