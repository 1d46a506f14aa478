//! fanout-service: fan-out on write into the home timelines of a Redis Cluster.
//!
//! post-service's outbox relay streams committed events over `feedline.fanout.v1.FanoutService`;
//! `api/` receives them and applies each author's events in order through `timelines/` (the
//! domain: pipelined, idempotent writes grouped per cluster node), acknowledging an event only
//! once every write for it is confirmed.

pub mod api;
pub mod config;
pub mod lag;
pub mod timelines;

use std::sync::Arc;
use std::time::Duration;

use feedline_proto::fanout::v1::fanout_service_server::{self, FanoutServiceServer};
use feedline_service_kit::{CancellationToken, Health, connect_with_backoff, lazy_channel};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;

use api::{AppState, FanoutApi};
use timelines::{PostServiceSource, Timelines};

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50052;

/// How often the cluster is probed for the health status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How often the fan-out lag summary is logged.
const LAG_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Serves fanout-service on `listener` until `shutdown` is cancelled. Then streams stop
/// reading, finish and answer the events they hold, and end; the server drains within the
/// grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Health::new(&[fanout_service_server::SERVICE_NAME]).await;
    let state = Arc::new(AppState::new(
        config.lanes,
        config.max_unacked,
        shutdown.clone(),
    ));
    let redis = tokio::spawn(maintain_redis(
        config.clone(),
        state.clone(),
        health.clone(),
        shutdown.clone(),
    ));
    let lag = tokio::spawn(lag::report(LAG_REPORT_INTERVAL, shutdown.clone()));

    let mut routes = RoutesBuilder::default();
    routes.add_service(FanoutServiceServer::new(FanoutApi::new(state.clone())));
    let served =
        feedline_service_kit::serve(&config.server, listener, routes, health, shutdown.clone())
            .await;

    shutdown.cancel();
    let _ = tokio::join!(redis, lag);
    Ok(served?)
}

/// Connects to the cluster (retrying with backoff until it works or shutdown), installs
/// the timelines, then keeps health in step with the cluster's reachability.
async fn maintain_redis(
    config: Config,
    state: Arc<AppState>,
    health: Health,
    shutdown: CancellationToken,
) {
    let connect = || feedline_redis::connect(&config.redis_url);
    let Some(client) = connect_with_backoff("redis cluster", &shutdown, connect).await else {
        return;
    };
    tracing::info!("redis cluster connected");
    // Lazy: post-service may start after us; it is only needed to rebuild missing indexes.
    let channel = match lazy_channel(&config.post_service_url) {
        Ok(channel) => channel,
        Err(error) => {
            // Config validation makes this unreachable; stay not-serving rather than panic.
            tracing::error!(%error, "bad FEEDLINE_POST_SERVICE_URL");
            return;
        }
    };
    let timelines = Timelines::new(
        client,
        Arc::new(PostServiceSource::new(channel)),
        config.timelines.clone(),
    );
    state.set_timelines(timelines.clone());
    health
        .follow_probe(PROBE_INTERVAL, shutdown, || async {
            timelines.ping().await.map_err(|e| e.to_string())
        })
        .await;
}
