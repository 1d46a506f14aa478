//! log-ingest-service as the benchmark runs it: the `perf` build, on a free port, against the
//! bench database, with its defaults (pool, workers, batch size), and clients for its apps.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow};
use feedline_test_harness::wait_for_serving;
use tonic::transport::Channel;

use super::database::BenchDatabase;
use crate::bench::process::{Proc, free_port, perf_bin, spawn};
use crate::logs_app::{self, CreatedApp, KeyedClient, describe};

const BIN: &str = "log-ingest-service";
const HEALTH_DEADLINE: Duration = Duration::from_secs(60);
const LOG_TAIL_LINES: usize = 30;

/// The running service.
pub struct Service {
    /// Dropping it kills the process.
    process: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// The admin token it was started with, for CreateApp.
    admin_token: String,
}

impl Service {
    /// Starts the `perf` binary (built beforehand) and waits until it serves.
    pub async fn start(db: &BenchDatabase, log_dir: &std::path::Path) -> Result<Self> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let log = log_dir.join("log-ingest-service.log");
        // Our own token, so an inherited FEEDLINE_ADMIN_TOKEN cannot make CreateApp fail.
        let admin_token = format!("bench-{}", std::process::id());
        let process = spawn(
            &perf_bin(BIN),
            &[
                ("FEEDLINE_LISTEN_ADDR", addr.clone()),
                ("FEEDLINE_DATABASE_URL", db.url.clone()),
                ("FEEDLINE_ADMIN_TOKEN", admin_token.clone()),
                ("OTEL_SERVICE_NAME", BIN.to_owned()),
            ],
            &log,
        )?;
        let mut service = Self {
            process,
            url: format!("http://{addr}"),
            log,
            admin_token,
        };
        let serving = wait_for_serving(addr.parse()?, "", HEALTH_DEADLINE).await;
        serving.map_err(|error| service.failure(anyhow!(error).context("it did not start")))?;
        Ok(service)
    }

    /// `n` connections to it (HTTP/2: each carries many calls at once).
    pub async fn connect(&self, n: usize) -> Result<Vec<Channel>> {
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            channels.push(logs_app::connect(&self.url).await?);
        }
        Ok(channels)
    }

    /// Creates app `name`.
    pub async fn create_app(&self, channel: &Channel, name: &str) -> Result<CreatedApp> {
        logs_app::create(channel.clone(), name, Some(&self.admin_token))
            .await
            .map_err(|status| anyhow!("CreateApp `{name}` failed: {}", describe(&status)))
    }

    /// One client per channel, all sending `app`'s key.
    pub fn clients(channels: &[Channel], app: &CreatedApp) -> Result<Vec<KeyedClient>> {
        channels
            .iter()
            .map(|channel| logs_app::keyed_client(channel.clone(), &app.key))
            .collect()
    }

    /// `error`, with whether the service died and the end of its log: the likely why.
    pub fn failure(&mut self, error: anyhow::Error) -> anyhow::Error {
        let state = match self.process.exited() {
            Some(status) => format!("log-ingest-service exited ({status})"),
            None => "log-ingest-service is still running".to_owned(),
        };
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        error.context(format!(
            "{state}; last lines of {}:\n{tail}\n---",
            self.log.display()
        ))
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
