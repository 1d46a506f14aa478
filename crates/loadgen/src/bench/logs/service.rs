//! log-ingest-service as the benchmark runs it: the `perf` build, on a free port, against the
//! bench database, with its defaults (pool, workers, batch size), and clients for its apps.

use std::path::Path;

use anyhow::{Result, anyhow};
use feedline_test_harness::ServiceProcess;
use tonic::transport::Channel;

use super::database::BenchDatabase;
use crate::bench::process::Planned;
use crate::connect::{self, Service as Target};
use crate::scenarios::logs::app::{self, CreatedApp, KeyedClient};
use feedline_service_kit::auth::Credential;

/// The running service.
pub struct Service {
    plan: Planned,
    /// Dropping it kills the process.
    process: ServiceProcess,
    /// The admin token it was started with, for CreateApp.
    admin_token: String,
}

impl Service {
    /// Starts the `perf` binary and waits until it serves.
    pub async fn start(db: &BenchDatabase, log_dir: &Path) -> Result<Self> {
        let plan = Planned::new("log-ingest-service", log_dir)?;
        // Our own token, so an inherited FEEDLINE_ADMIN_TOKEN cannot make CreateApp fail.
        let admin_token = format!("bench-{}", std::process::id());
        let process = plan
            .run(&[
                ("FEEDLINE_DATABASE_URL", db.url.clone()),
                ("FEEDLINE_ADMIN_TOKEN", admin_token.clone()),
                ("OTEL_SERVICE_NAME", plan.name.to_owned()),
            ])
            .await?;
        Ok(Self {
            plan,
            process,
            admin_token,
        })
    }

    /// `n` connections to it (HTTP/2: each carries many calls at once).
    pub async fn connect(&self, n: usize) -> Result<Vec<Channel>> {
        let url = self.plan.url();
        let target = Target {
            name: self.plan.name,
            url: &url,
            token: None,
        };
        connect::plain_channels(target, n).await
    }

    /// Creates app `name`.
    pub async fn create_app(&self, channel: &Channel, name: &str) -> Result<CreatedApp> {
        app::create(channel, name, Some(&self.admin_token), &Credential::none()).await
    }

    /// One client per channel, all sending `app`'s key.
    pub fn clients(channels: &[Channel], app: &CreatedApp) -> Result<Vec<KeyedClient>> {
        app::clients(channels, &app.key)
    }

    /// `error`, with whether the service died and the end of its log: the likely why.
    pub fn failure(&mut self, error: anyhow::Error) -> anyhow::Error {
        let state = if self.process.running() {
            "log-ingest-service is still running"
        } else {
            "log-ingest-service exited"
        };
        self.plan.failure(error.context(state))
    }
}

/// Context for errors of a run against the service.
pub trait ServiceContext<T> {
    /// Adds the service's state and log tail to an error.
    fn service_context(self, service: &mut Service, run: &str) -> Result<T>;
}

impl<T> ServiceContext<T> for Result<T> {
    fn service_context(self, service: &mut Service, run: &str) -> Result<T> {
        self.map_err(|error| service.failure(error.context(format!("the {run} run failed"))))
    }
}

/// Fails with the first error of a run, if it had one: a service run may only retry.
pub fn no_errors(totals: crate::stats::Totals) -> Result<crate::stats::Totals> {
    match totals.errors.iter().next() {
        Some((kind, error)) => Err(anyhow!("{kind}: {}", error.first_message)),
        None => Ok(totals),
    }
}
