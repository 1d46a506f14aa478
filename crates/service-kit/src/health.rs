//! gRPC health: what the service reports, kept in step with its dependencies.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

/// The health of one server: the overall status ("") and that of each of its gRPC services move
/// together. Starts NOT_SERVING; the service flips it once its dependencies answer.
#[derive(Clone, Debug)]
pub struct Health {
    reporter: HealthReporter,
    services: Arc<Vec<String>>,
}

impl Health {
    /// Health for a server of the named gRPC services (e.g. `feedline.post.v1.PostService`),
    /// all NOT_SERVING.
    pub async fn new(services: &[&str]) -> Self {
        let health = Self {
            reporter: HealthReporter::new(),
            services: Arc::new(services.iter().map(|s| (*s).to_owned()).collect()),
        };
        health.set_serving(false).await;
        health
    }

    /// Sets the overall status and every service's status.
    pub async fn set_serving(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for service in self.services.iter() {
            self.reporter.set_service_status(service, status).await;
        }
    }

    /// The `grpc.health.v1.Health` service answering from this state.
    pub fn server(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService::from_health_reporter(self.reporter.clone()))
    }

    /// Probes a dependency every `interval` until `shutdown`, reporting SERVING while `probe`
    /// answers true. Logs transitions only, so a long outage is one line, not one per probe.
    pub async fn follow_probe<F, Fut>(
        self,
        interval: Duration,
        shutdown: CancellationToken,
        probe: F,
    ) where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut last: Option<bool> = None;
        loop {
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = tokio::time::timeout(interval.max(Duration::from_millis(500)), probe()) => r,
            };
            let healthy = matches!(result, Ok(Ok(())));
            if last != Some(healthy) {
                match &result {
                    Ok(Ok(())) => tracing::info!("dependencies reachable: serving"),
                    Ok(Err(error)) => tracing::warn!(%error, "dependency unreachable: not serving"),
                    Err(_) => tracing::warn!("dependency probe timed out: not serving"),
                }
                // After shutdown has begun the server owns the status (it stays NOT_SERVING).
                if shutdown.is_cancelled() {
                    return;
                }
                self.set_serving(healthy).await;
                last = Some(healthy);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
