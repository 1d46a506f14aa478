//! post-service: users, the follow graph and posts, the source of truth of feedline.
//!
//! Every write (post, delete, follow, unfollow) commits its fan-out intent to the `outbox`
//! table in the same transaction; `relay/` streams those rows to fanout-service and deletes
//! each once it is acknowledged. Layout: `api/` adapts gRPC to `store/` (the domain), `entity/`
//! and `migration/` describe the tables.

pub mod acting;
pub mod admission;
pub mod api;
pub mod config;
pub mod convert;
pub mod entity;
pub mod error;
pub mod migration;
pub mod page_token;
pub mod rate_limit;
pub mod relay;
pub mod store;

/// Time-ordered ids, shared with log-ingest-service.
pub use feedline_service_kit::ids;

use std::sync::Arc;
use std::time::Duration;

use feedline_proto::graph::v1::graph_service_server::{self, GraphServiceServer};
use feedline_proto::post::v1::post_service_server::{self, PostServiceServer};
use feedline_service_kit::ids::LeaseError;
use feedline_service_kit::{CancellationToken, Health, connect_with_backoff};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

pub use config::Config;

use admission::Admission;
use api::{AppState, GraphApi, PostApi};
use rate_limit::RateLimiter;
use store::Store;

/// How often the database is probed for the health status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Serves post-service on `listener` until `shutdown` is cancelled, then drains in-flight calls
/// (within the grace period) and closes the database pool.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Health::new(&[
        graph_service_server::SERVICE_NAME,
        post_service_server::SERVICE_NAME,
    ])
    .await;
    // The rate limiter is post-service's one Redis user.
    feedline_redis::declare_errors("post-service");
    let state = Arc::new(AppState::new(
        Admission::new(config.admission),
        RateLimiter::new(config.rate_limits.clone()),
    ));
    // Writes are admitted uncounted until the cluster is reached (fail open): not awaited.
    let limits = tokio::spawn({
        let (state, tls, shutdown) = (state.clone(), config.server.tls.clone(), shutdown.clone());
        async move { state.limiter().connect(&tls, &shutdown).await }
    });

    // Set when the start cannot succeed (see `maintain_database`); `run` then fails.
    let fatal = Arc::new(std::sync::OnceLock::new());
    let database = tokio::spawn(maintain_database(
        fatal.clone(),
        config.clone(),
        state.clone(),
        health.clone(),
        shutdown.clone(),
    ));

    let mut routes = RoutesBuilder::default();
    routes
        .add_service(GraphServiceServer::new(GraphApi::new(state.clone())))
        .add_service(PostServiceServer::new(PostApi::new(state.clone())));
    let served =
        feedline_service_kit::serve(&config.server, listener, routes, health, shutdown.clone())
            .await;

    // Fixed order: the server has drained (or failed); stop the probe, then close the pools.
    shutdown.cancel();
    let _ = database.await;
    let _ = limits.await;
    state.limiter().close().await;
    if let Ok(store) = state.store()
        && let Err(error) = store.close().await
    {
        tracing::warn!(%error, "closing the database pool");
    }
    if let Some(error) = fatal.get() {
        anyhow::bail!("{error}");
    }
    Ok(served?)
}

/// Connects, migrates and leases a node id (retrying with backoff until it works or
/// shutdown), installs the store, then keeps health in step with the database's reachability.
/// A lease that retrying cannot win (the clock far behind the node's high-water mark, a pinned
/// id held by a live replica) is put in `fatal` and stops the service.
async fn maintain_database(
    fatal: Arc<std::sync::OnceLock<LeaseError>>,
    config: Config,
    state: Arc<AppState>,
    health: Health,
    shutdown: CancellationToken,
) {
    // A fatal error is an `Ok` to the backoff loop, so that it stops retrying.
    let connect = || async {
        let url = &config.database_url;
        match Store::connect_leased(url, config.db_max_connections, &config.node_lease).await {
            Ok(store) => Ok(Ok(store)),
            Err(LeaseError::Fatal(error)) => Ok(Err(LeaseError::Fatal(error))),
            Err(error) => Err(error),
        }
    };
    let store = match connect_with_backoff("database", &shutdown, connect).await {
        Some(Ok(store)) => store,
        Some(Err(error)) => {
            tracing::error!(%error, "cannot lease a node id for the id generator; stopping");
            let _ = fatal.set(error);
            shutdown.cancel();
            return;
        }
        None => return,
    };
    tracing::info!("database connected and migrated");
    state.set_store(store);
    let Ok(store) = state.store() else { return };
    let relay_on = !config.relay.endpoints.is_empty();
    if !relay_on {
        tracing::info!("outbox relay off: FEEDLINE_FANOUT_URL is empty; no admission control");
    }
    let probe = health.follow_probe(PROBE_INTERVAL, shutdown.clone(), || async {
        store.ping().await.map_err(|e| e.to_string())
    });
    // Admission bounds the backlog this process's relay drains; without a relay it stays open.
    let admission = async {
        if relay_on {
            state.admission().watch(store, shutdown.clone()).await;
        }
    };
    // All end on shutdown; the relay releases its in-flight claims before returning.
    tokio::join!(
        probe,
        admission,
        relay::run(store, config.relay.clone(), shutdown.clone())
    );
}
