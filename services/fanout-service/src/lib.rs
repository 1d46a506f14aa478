//! fanout-service: fan-out on write into the home timelines of a Redis Cluster.
//!
//! post-service's outbox relay streams committed events over `feedline.fanout.v1.FanoutService`;
//! `api/` receives them and applies each author's events in order through `timelines/` (the
//! domain: pipelined, idempotent writes grouped per cluster node), acknowledging an event only
//! once every write for it is confirmed. `topology` watches the cluster's slot owners and asks
//! a relay to replay its retained outbox window when they change.

// The event path's futures nest deeply (a stream, its scheduler, an event, a phase, a pipeline,
// `feedline_redis::timeline`'s writes, fred's commands): computing their layout goes past the
// default depth of 128. A compile-time setting only.
#![recursion_limit = "256"]

pub mod api;
pub mod config;
pub mod lag;
pub mod metrics;
pub mod timelines;
pub mod topology;

use feedline_service_kit::auth::Credential;
use std::sync::Arc;
use std::time::Duration;

use feedline_proto::fanout::v1::fanout_service_server;
use feedline_service_kit::{CancellationToken, Health};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic::transport::Channel;

pub use config::Config;

use api::{AppState, FanoutApi};
use timelines::{PostServiceSource, TimelineConfig, Timelines};

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50052;

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
    feedline_redis::declare_errors(metrics::SERVICE);
    let state = Arc::new(
        AppState::new(config.lanes, config.max_unacked, shutdown.clone())
            .with_max_unacked_bytes(config.max_unacked_bytes),
    );
    // Lazy: post-service may start after us; it is only needed to rebuild missing indexes.
    let redis = tokio::spawn(feedline_redis::maintain(
        feedline_redis::Cluster {
            url: config.redis_url.clone(),
            command_timeout: feedline_redis::DEFAULT_COMMAND_TIMEOUT,
        },
        config.post_service_url.clone(),
        config.server.tls.clone(),
        health.clone(),
        shutdown.clone(),
        install_timelines(
            state.clone(),
            config.timelines.clone(),
            config.server.credential.clone(),
            config.replay_on_topology_change,
        ),
        Timelines::ping,
    ));
    let lag = tokio::spawn(lag::report(LAG_REPORT_INTERVAL, shutdown.clone()));

    let mut routes = RoutesBuilder::default();
    routes.add_service(FanoutApi::new(state.clone()).into_server());
    let served =
        feedline_service_kit::serve(&config.server, listener, routes, health, shutdown.clone())
            .await;

    shutdown.cancel();
    let _ = tokio::join!(redis, lag);
    Ok(served?)
}

/// What [`feedline_redis::maintain`] does once the cluster is connected: builds the timelines
/// on it and on post-service, hands them to the API, and starts the topology watcher (which
/// asks for replays when `replay_on_topology_change`).
fn install_timelines(
    state: Arc<AppState>,
    config: TimelineConfig,
    credential: Credential,
    replay_on_topology_change: bool,
) -> impl FnOnce(fred::prelude::Client, Channel) -> Timelines {
    move |client, channel| {
        tokio::spawn(topology::watch(
            client.clone(),
            state.clone(),
            replay_on_topology_change,
        ));
        let source = Arc::new(PostServiceSource::new(channel, &credential));
        let timelines = Timelines::new(client, source, config);
        state.set_timelines(timelines.clone());
        timelines
    }
}
