//! One service running as a task of the test's runtime, and its stop switch.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use feedline_service_kit::{CancellationToken, TlsConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// How long a service may take to shut down once told to.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// A service's `run(config, listener, shutdown)` as a spawned task.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Cancelled by [`Running::stop`]: the service then shuts down in its own order.
    shutdown: CancellationToken,
    /// The service's `run`; dropping the handle without `stop` leaves it to the runtime's end.
    task: JoinHandle<anyhow::Result<()>>,
    /// How a client reaches it: TLS trusting the stack's CA, when it serves TLS.
    pub(crate) tls: Option<TlsConfig>,
}

impl Running {
    /// Spawns `run(config, listener, shutdown)`, as a service's `main` would call it.
    pub fn spawn<C, F>(
        listener: TcpListener,
        config: C,
        run: impl FnOnce(C, TcpListener, CancellationToken) -> F,
    ) -> Result<Running>
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().context("listener address")?;
        let shutdown = CancellationToken::new();
        Ok(Running {
            addr,
            shutdown: shutdown.clone(),
            task: tokio::spawn(run(config, listener, shutdown)),
            tls: None,
        })
    }

    /// Waits for `serving` (the service's health check), or fails as soon as the service's
    /// `run` ends first (a start that failed), with its error.
    pub(crate) async fn until_serving(
        &mut self,
        serving: impl Future<Output = Result<()>>,
    ) -> Result<()> {
        tokio::select! {
            serving = serving => serving,
            ended = &mut self.task => {
                let ended = ended.context("the service task panicked")?;
                let error = ended.err().unwrap_or_else(|| anyhow!("run returned Ok"));
                Err(error.context(format!("the service on {} stopped before serving", self.addr)))
            }
        }
    }

    /// `http://` (or `https://` when it serves TLS) and the address, for a client or another
    /// service.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A connected channel to the service (with TLS when it serves TLS).
    pub async fn channel(&self) -> Result<Channel> {
        let endpoint = Channel::from_shared(self.url())?;
        let endpoint = match &self.tls {
            Some(tls) => tls.apply(endpoint)?,
            None => endpoint,
        };
        endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.addr))
    }

    /// Cancels the service and waits (20 s at most) until `run` has returned Ok.
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(STOP_DEADLINE, self.task)
            .await
            .context("not stopped within the grace period")?
            .context("the service task panicked")?
            .context("run returned an error")
    }
}
