//! log-ingest-service: log records written to the database in bulk and acknowledged only once
//! committed.
//!
//! A call is validated (`api/validate/`), admitted against the queue's budget or refused at once
//! (RESOURCE_EXHAUSTED), batched by one leader with other calls, written in one transaction by
//! one of a bounded pool of writers, and answered with its counts only after the commit
//! (`pipeline/`). `api/` adapts gRPC to that; `apps/` is apps and their keys (issued, revoked,
//! and cached for a short TTL); `store/` and `migration/` are the database.

pub mod api;
pub mod apps;
pub mod config;
pub mod error;
pub mod migration;
pub mod pipeline;
pub mod record;
pub mod store;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use feedline_proto::logs::v1::log_service_server::{self, LogServiceServer};
use feedline_service_kit::ids::{IdGenerator, LeaseError, NodeLease};
use feedline_service_kit::{CancellationToken, Health, connect_with_backoff};
use sea_orm::DbBackend;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::service::RoutesBuilder;

pub use config::{Config, DEFAULT_PORT};

use api::{AppState, LogApi, Ready};
use pipeline::Pipeline;
use store::Store;

/// How often the database is probed for the health status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Largest request tonic decodes: above the 4 MiB call limit, so a call a little over it gets
/// INVALID_ARGUMENT naming `records` rather than a transport error.
const MAX_DECODING_BYTES: usize = 8 << 20;

/// Serves log-ingest-service on `listener` until `shutdown` is cancelled. Then, in order:
/// health NOT_SERVING and no new calls (the server), open streams told to end, in-flight calls
/// drained (they wait for their commits), the pipeline flushed, the pool closed; all within
/// the grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Health::new(&[log_service_server::SERVICE_NAME]).await;
    // Refuses until `maintain_database` leases a node id for it.
    let ids = Arc::new(IdGenerator::new());
    let state = AppState::new(
        config.admin_token.clone(),
        ids.clone(),
        config.app_key_cache_ttl,
        shutdown.clone(),
    );
    // Closed only after the server has drained, so calls still waiting for a commit get it.
    let closing = CancellationToken::new();
    // Set when the start cannot succeed (see `maintain_database`); `run` then fails.
    let fatal = Arc::new(OnceLock::new());
    let database = tokio::spawn(maintain_database(
        fatal.clone(),
        ids,
        config.clone(),
        state.clone(),
        health.clone(),
        shutdown.clone(),
        closing.clone(),
    ));

    let mut routes = RoutesBuilder::default();
    routes.add_service(
        LogServiceServer::new(LogApi::new(state.clone()))
            .max_decoding_message_size(MAX_DECODING_BYTES),
    );
    let cancelled_at = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            Instant::now()
        }
    });
    let served =
        feedline_service_kit::serve(&config.server, listener, routes, health, shutdown.clone())
            .await;

    shutdown.cancel();
    closing.cancel();
    // What is left of the grace period (counted from SIGTERM) bounds the flush.
    let since = cancelled_at.await.map_or(Duration::ZERO, |at| at.elapsed());
    let left = config.server.shutdown_grace.saturating_sub(since);
    let (leader, lease) = match database.await {
        Ok(Some((leader, lease))) => (Some(leader), Some(lease)),
        _ => (None, None),
    };
    let flush = async {
        if let Some(leader) = leader {
            let _ = leader.await;
        }
    };
    if tokio::time::timeout(left.max(Duration::from_secs(1)), flush)
        .await
        .is_err()
    {
        tracing::warn!("the pipeline did not drain within the grace period");
    }
    // Every admitted record has its id: the node id is free for the next replica.
    if let Some(lease) = lease {
        lease.release().await;
    }
    if let Ok(ready) = state.ready()
        && let Err(error) = ready.store.close().await
    {
        tracing::warn!(%error, "closing the database pool");
    }
    if let Some(error) = fatal.get() {
        anyhow::bail!("{error}");
    }
    Ok(served?)
}

/// Connects, migrates and leases a node id for `ids` (retrying with backoff until it works or
/// shutdown), starts the pipeline, then keeps health in step with the database. Returns the
/// pipeline's leader and the lease, which the caller releases once the pipeline is drained. A
/// lease that retrying cannot win (the clock far behind the node's high-water mark, a pinned
/// id held by a live replica) is put in `fatal` and stops the service.
async fn maintain_database(
    fatal: Arc<OnceLock<LeaseError>>,
    ids: Arc<IdGenerator>,
    config: Config,
    state: Arc<AppState>,
    health: Health,
    shutdown: CancellationToken,
    closing: CancellationToken,
) -> Option<(JoinHandle<()>, NodeLease)> {
    let connect = || Store::connect(&config.database_url, config.db_max_connections);
    let store = connect_with_backoff("database", &shutdown, connect).await?;
    tracing::info!("database connected and migrated");
    // A fatal error is an `Ok` to the backoff loop, so that it stops retrying.
    let lease = || async {
        match NodeLease::start(&config.database_url, &config.node_lease, ids.clone()).await {
            Ok(lease) => Ok(Ok(lease)),
            Err(LeaseError::Fatal(error)) => Ok(Err(LeaseError::Fatal(error))),
            Err(error) => Err(error),
        }
    };
    let lease = match connect_with_backoff("node id lease", &shutdown, lease).await? {
        Ok(lease) => lease,
        Err(error) => {
            tracing::error!(%error, "cannot lease a node id for the id generator; stopping");
            let _ = fatal.set(error);
            shutdown.cancel();
            return None;
        }
    };
    let mut pipeline_config = config.pipeline.clone();
    if store.backend() == DbBackend::Sqlite {
        // SQLite has one writer: more would only wait on its lock.
        pipeline_config.workers = 1;
    }
    let (pipeline, leader) = Pipeline::start(&pipeline_config, store.clone(), ids, closing);
    state.set_ready(Ready {
        store: store.clone(),
        pipeline,
    });
    health
        .follow_probe(PROBE_INTERVAL, shutdown, || async {
            store.ping().await.map_err(|e| e.to_string())
        })
        .await;
    Some((leader, lease))
}
