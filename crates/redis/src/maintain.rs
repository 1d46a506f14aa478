//! A timeline service's life with its dependencies: the cluster, reached with backoff, and
//! post-service, reached lazily; then health kept in step with the cluster.

use std::fmt::Display;
use std::time::Duration;

use feedline_proto::tonic::transport::Channel;
use feedline_service_kit::{
    CancellationToken, Health, TlsConfig, connect_with_backoff, lazy_channel,
};
use fred::prelude::Client;

/// How often the cluster is probed for the health status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The cluster a service reaches, and how long one of its commands may take.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `FEEDLINE_REDIS_URL`.
    pub url: String,
    /// See [`crate::connect_with`].
    pub command_timeout: Duration,
}

/// Connects to `cluster` (retrying with backoff until it works or `shutdown`) and makes a lazy
/// channel to `post_service_url` (both with `tls` for `rediss`/`https` URLs; post-service may
/// start after us); `install` builds the service's domain on both and publishes it; then
/// `health` follows the domain's `ping` every second until `shutdown`. Returns early, health
/// still NOT_SERVING, on shutdown or a bad post-service URL.
///
/// `ping` is expected to be [`crate::ping_masters`]: health says NOT_SERVING only while the
/// cluster as a whole is unreachable, not while one master is down or failing over.
pub async fn maintain<D, E: Display>(
    cluster: Cluster,
    post_service_url: String,
    tls: TlsConfig,
    health: Health,
    shutdown: CancellationToken,
    install: impl FnOnce(Client, Channel) -> D,
    ping: impl AsyncFn(&D) -> Result<(), E>,
) {
    let connect = || crate::connect_with(&cluster.url, &tls, cluster.command_timeout);
    let Some(client) = connect_with_backoff("redis cluster", &shutdown, connect).await else {
        return;
    };
    tracing::info!("redis cluster connected");
    let channel = match lazy_channel(&post_service_url, &tls) {
        Ok(channel) => channel,
        Err(error) => {
            // Config validation makes this unreachable; stay not-serving rather than panic.
            tracing::error!(%error, "bad FEEDLINE_POST_SERVICE_URL");
            return;
        }
    };
    let domain = install(client, channel);
    health
        .follow_probe(PROBE_INTERVAL, shutdown, || async {
            ping(&domain).await.map_err(|e| e.to_string())
        })
        .await;
}
