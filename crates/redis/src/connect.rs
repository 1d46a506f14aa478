//! Connecting to the Redis Cluster (timeouts, reconnects), and probing its masters for the
//! health check.

use std::time::Duration;

use feedline_service_kit::TlsConfig;
use fred::interfaces::ClusterInterface as _;
use fred::prelude::{Builder, Client, ClientLike as _, Config, Error, ReconnectPolicy};
use fred::types::config::{Options, Server};
use futures::future::join_all;

/// How long a health probe waits for each master's PONG.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the probe waits for a TCP connection to a master that did not answer PING.
const REACH_TIMEOUT: Duration = Duration::from_secs(1);

/// The command timeout of [`connect`]: fan-out's pipelines of hundreds of writes get 5 s.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects a clustered client to `url` and waits until it is ready (at most 10 s), with
/// [`DEFAULT_COMMAND_TIMEOUT`]; see [`connect_with`].
pub async fn connect(url: &str, tls: &TlsConfig) -> Result<Client, Error> {
    connect_with(url, tls, DEFAULT_COMMAND_TIMEOUT).await
}

/// Connects a clustered client to `url` and waits until it is ready (at most 10 s).
///
/// Commands time out after `command_timeout`, queueing included, so a node that stops
/// answering fails the call (an event is retried, a read answers UNAVAILABLE) instead of
/// hanging it. A MOVED reply makes the client re-read the slot map at once (`CLUSTER SLOTS`)
/// and follow it. A broken connection (a node killed, a failover) makes it reconnect to the
/// cluster: re-read the slot map from the URL's nodes and connect to every master in it,
/// retried after 50 ms, then doubling up to 1 s, without end. While that fails, which it does
/// while a master is dead and not yet replaced, fred holds every command, whatever its slot:
/// they fail at their timeout. Once a replica is promoted the next attempt succeeds, within
/// about a second. Connecting and the client's own commands (`CLUSTER SLOTS`) give up after
/// 2 s, so an address that swallows packets costs one attempt 2 s, not more.
///
/// A `rediss-cluster://` URL connects with TLS to every node (ElastiCache in-transit
/// encryption), verifying each node's certificate against the public web roots and
/// `FEEDLINE_TLS_CA` (`tls`), for the host or IP the cluster announces.
pub async fn connect_with(
    url: &str,
    tls: &TlsConfig,
    command_timeout: Duration,
) -> Result<Client, Error> {
    let mut config = Config::from_url(url)?;
    if config.uses_tls() {
        config.tls = Some(rustls_config(tls)?);
    }
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.internal_command_timeout = Duration::from_secs(2);
            c.max_command_attempts = 3;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = command_timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 50, 1_000, 2))
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

/// What the health probe found: the masters of the cached routing table that did not answer
/// PING, and whether the cluster is reachable at all.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Masters that did not answer PING within 2 s (`host:port`); empty when all did.
    pub silent: Vec<String>,
    /// Whether some master answered PING or, if none did, at least accepted a TCP connection
    /// (while fred reconnects after losing one master, it holds every command, PINGs
    /// included, yet the other masters are up).
    pub reachable: bool,
}

/// PINGs every master in the cached routing table (2 s each, one attempt, failing at once
/// while the client reconnects); Err only when the cluster is unreachable: no master answers
/// nor accepts a TCP connection (or no routing table is known yet). One silent master (dead,
/// failing over) is not an error: the service serves the other slots, and the calls that need
/// that master's answer UNAVAILABLE. The silent ones are logged when they change, as a warning.
/// For health probes.
pub async fn ping_masters(redis: &Client) -> Result<(), Error> {
    let reach = probe_masters(redis).await?;
    let silent = reach.silent.join(",");
    let mut logged = LAST_SILENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let index = match logged.iter().position(|(id, _)| id == redis.id()) {
        Some(index) => index,
        None => {
            logged.push((redis.id().to_owned(), String::new()));
            logged.len() - 1
        }
    };
    let last = &mut logged[index].1;
    if *last != silent {
        if silent.is_empty() {
            tracing::info!("every redis master answers again");
        } else {
            tracing::warn!(
                masters = %silent,
                "redis masters not answering; their slots are unavailable"
            );
        }
        *last = silent;
    }
    drop(logged);
    if reach.reachable {
        Ok(())
    } else {
        Err(Error::new(
            fred::error::ErrorKind::IO,
            "no redis master reachable",
        ))
    }
}

/// Per client (its id), the masters last logged as silent: a lasting state is one line.
static LAST_SILENT: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// Which masters of the cached routing table answer, and whether any can be reached.
pub async fn probe_masters(redis: &Client) -> Result<Reach, Error> {
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
    let pings = masters.iter().map(|server| {
        // One attempt and a deadline: a probe must answer, not queue behind a reconnect.
        let options = Options {
            cluster_node: Some(server.clone()),
            timeout: Some(PING_TIMEOUT),
            max_attempts: Some(1),
            fail_fast: true,
            ..Options::default()
        };
        async move { redis.with_options(&options).ping::<()>(None).await }
    });
    let replies = join_all(pings).await;
    let silent: Vec<&Server> = masters
        .iter()
        .zip(&replies)
        .filter(|(_, reply)| reply.is_err())
        .map(|(server, _)| server)
        .collect();
    let reachable = silent.len() < masters.len() || any_accepts(&silent).await;
    Ok(Reach {
        silent: silent
            .iter()
            .map(|s| format!("{}:{}", s.host, s.port))
            .collect(),
        reachable,
    })
}

/// Whether any of `servers` accepts a TCP connection within 1 s.
async fn any_accepts(servers: &[&Server]) -> bool {
    let connects = servers.iter().map(|server| async move {
        let connect = tokio::net::TcpStream::connect((&*server.host, server.port));
        matches!(
            tokio::time::timeout(REACH_TIMEOUT, connect).await,
            Ok(Ok(_))
        )
    });
    join_all(connects).await.into_iter().any(|ok| ok)
}
