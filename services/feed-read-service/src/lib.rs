//! feed-read-service: home timelines read page by page, hydrated with the posts.
//!
//! `api/` adapts `feedline.feed.v1.FeedService` onto `feed/` (the domain: the cursor, reading
//! and merging the sorted sets that fanout-service writes, hydration from the post cache, the
//! rebuild of a missing timeline from post-service).

pub mod api;
pub mod config;
pub mod error;
pub mod feed;

use feedline_service_kit::auth::Credential;
use std::sync::Arc;

use feedline_proto::feed::v1::feed_service_server::{self, FeedServiceServer};
use feedline_service_kit::{CancellationToken, Health};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic::transport::Channel;

pub use config::Config;

use api::{AppState, FeedApi};
use feed::{Feed, FeedConfig, PostSource};

/// The service's well-known port.
pub const DEFAULT_PORT: u16 = 50053;

/// Serves feed-read-service on `listener` until `shutdown` is cancelled, then drains within
/// the grace period. Until the cluster is connected, health is NOT_SERVING and reads answer
/// UNAVAILABLE.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Health::new(&[feed_service_server::SERVICE_NAME]).await;
    feedline_redis::declare_errors("feed-read-service");
    let state = Arc::new(AppState::default());
    // Lazy: post-service may start after us; it is needed only for misses and rebuilds.
    let redis = tokio::spawn(feedline_redis::maintain(
        feedline_redis::Cluster {
            url: config.redis_url.clone(),
            command_timeout: config.redis_command_timeout,
        },
        config.post_service_url.clone(),
        config.server.tls.clone(),
        health.clone(),
        shutdown.clone(),
        install_feed(
            state.clone(),
            config.feed.clone(),
            config.server.credential.clone(),
        ),
        Feed::ping,
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

/// What [`feedline_redis::maintain`] does once the cluster is connected: builds the feed on it
/// and on post-service, and hands it to the API.
fn install_feed(
    state: Arc<AppState>,
    config: FeedConfig,
    credential: Credential,
) -> impl FnOnce(fred::prelude::Client, Channel) -> Feed {
    move |client, channel| {
        let feed = Feed::new(client, PostSource::new(channel, &credential), config);
        state.set_feed(feed.clone());
        feed
    }
}
