//! feed-read-service: home timelines read page by page, hydrated with the posts.
//!
//! `api/` adapts `feedline.feed.v1.FeedService` onto `feed/` (the domain: the cursor, reading
//! and merging the sorted sets that fanout-service writes, hydration from the post cache, the
//! rebuild of a missing timeline from post-service).

pub mod api;
pub mod config;
pub mod error;
pub mod feed;

use std::sync::Arc;
use std::time::Duration;

use feedline_proto::feed::v1::feed_service_server::{self, FeedServiceServer};
use feedline_service_kit::{CancellationToken, Health, connect_with_backoff, lazy_channel};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;

use api::{AppState, FeedApi};
use feed::{Feed, PostSource};

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50053;

/// How often the cluster is probed for the health status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Serves feed-read-service on `listener` until `shutdown` is cancelled, then drains within
/// the grace period. Until the cluster is connected, health is NOT_SERVING and reads answer
/// UNAVAILABLE.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Health::new(&[feed_service_server::SERVICE_NAME]).await;
    let state = Arc::new(AppState::default());
    let redis = tokio::spawn(maintain_redis(
        config.clone(),
        state.clone(),
        health.clone(),
        shutdown.clone(),
    ));

    let mut routes = RoutesBuilder::default();
    routes.add_service(FeedServiceServer::new(FeedApi::new(state)));
    let served =
        feedline_service_kit::serve(&config.server, listener, routes, health, shutdown.clone())
            .await;

    shutdown.cancel();
    let _ = redis.await;
    Ok(served?)
}

/// Connects to the cluster (retrying with backoff until it works or shutdown), installs the
/// feed, then keeps health in step with the cluster's reachability.
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
    // Lazy: post-service may start after us; it is needed only for misses and rebuilds.
    let channel = match lazy_channel(&config.post_service_url) {
        Ok(channel) => channel,
        Err(error) => {
            // Config validation makes this unreachable; stay not-serving rather than panic.
            tracing::error!(%error, "bad FEEDLINE_POST_SERVICE_URL");
            return;
        }
    };
    let feed = Feed::new(client, PostSource::new(channel), config.feed.clone());
    state.set_feed(feed.clone());
    health
        .follow_probe(PROBE_INTERVAL, shutdown, || async {
            feed.ping().await.map_err(|e| e.to_string())
        })
        .await;
}
