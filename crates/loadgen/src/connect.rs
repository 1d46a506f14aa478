//! Reaching the stack: a health check of each service a scenario needs (with a short
//! deadline, so a stack that is down fails in seconds with one line that says which part),
//! HTTP/2 channels to spread the load over, and a client of the Redis Cluster.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// How long a service may take to answer SERVING before the run is refused.
const HEALTH_DEADLINE: Duration = Duration::from_secs(3);
const HEALTH_POLL: Duration = Duration::from_millis(100);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A call still unanswered after this counts as an error rather than hanging its VU.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// `feedline_redis::connect` waits up to 10 s itself; a cluster that is not there fails sooner.
const REDIS_DEADLINE: Duration = Duration::from_secs(5);

/// A connection to a service of the stack: its calls carry the run's bearer token (when the
/// stack verifies tokens) and the trace context.
pub type Channel = feedline_service_kit::ClientChannel;

/// A service of the stack, as the scenarios name it.
#[derive(Clone, Copy, Debug)]
pub struct Service<'a> {
    /// "post-service", ...
    pub name: &'static str,
    /// `http://host:port`.
    pub url: &'a str,
    /// The bearer token the calls carry (`--token`), if any.
    pub token: Option<&'a str>,
}

/// `FEEDLINE_TLS_CA` as the services read it: what an `https://` or `rediss-cluster://` URL is
/// verified with, besides the public roots.
fn tls() -> Result<feedline_service_kit::TlsConfig> {
    Ok(feedline_service_kit::TlsConfig::from_env(
        &feedline_service_kit::process_env(),
    )?)
}

fn endpoint(url: &str) -> Result<Endpoint> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not a valid address"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true);
    Ok(tls()?.apply(endpoint)?)
}

/// Fails unless every one of `services` answers SERVING within a few seconds.
pub async fn check_health(services: &[Service<'_>]) -> Result<()> {
    let checks = services.iter().map(|service| async move {
        let deadline = tokio::time::Instant::now() + HEALTH_DEADLINE;
        loop {
            let problem = match health(service.url).await {
                Ok(ServingStatus::Serving) => return Ok(()),
                Ok(status) => format!("answers {}", status.as_str_name()),
                Err(error) => error,
            };
            if tokio::time::Instant::now() + HEALTH_POLL >= deadline {
                bail!(
                    "{} at {} is not healthy: {problem} (is the stack running? `cargo xtask up` starts it)",
                    service.name,
                    service.url
                );
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    });
    futures::future::try_join_all(checks).await?;
    Ok(())
}

/// One `grpc.health.v1.Health/Check` of the whole server (""), on a fresh connection.
async fn health(url: &str) -> Result<ServingStatus, String> {
    let endpoint = endpoint(url)
        .map_err(|e| format!("{e:#}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(1));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("nothing answers ({})", one_line(&e)))?;
    let request = HealthCheckRequest {
        service: String::new(),
    };
    match HealthClient::new(channel).check(request).await {
        Ok(response) => Ok(response.into_inner().status()),
        Err(status) if status.code() == Code::Unimplemented => {
            Err("it does not serve grpc.health.v1 (is it a feedline service?)".to_owned())
        }
        Err(status) => Err(format!(
            "health check failed: {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}

/// `n` HTTP/2 connections to `service`, whose calls carry the run's token.
pub async fn channels(service: Service<'_>, n: usize) -> Result<Vec<Channel>> {
    let credential = credential(service.token)?;
    Ok(plain_channels(service, n)
        .await?
        .into_iter()
        .map(|channel| feedline_service_kit::client_channel(channel, &credential))
        .collect())
}

/// The bearer token `token` as a credential (none when None).
pub fn credential(token: Option<&str>) -> Result<feedline_service_kit::auth::Credential> {
    match token {
        Some(token) => feedline_service_kit::auth::Credential::bearer(token)
            .map_err(|problem| anyhow!("--token: {problem}")),
        None => Ok(feedline_service_kit::auth::Credential::none()),
    }
}

/// `n` HTTP/2 connections to `service`, adding nothing to the calls (log-ingest's calls carry
/// an app key instead).
pub async fn plain_channels(
    service: Service<'_>,
    n: usize,
) -> Result<Vec<tonic::transport::Channel>> {
    let endpoint = endpoint(service.url)?;
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        let channel = endpoint.connect().await.map_err(|e| {
            anyhow!(
                "cannot connect to {} at {}: {}",
                service.name,
                service.url,
                one_line(&e)
            )
        })?;
        channels.push(channel);
    }
    Ok(channels)
}

/// One client per channel, made by `new` (e.g. `FeedServiceClient::new`).
pub fn clients<C>(channels: &[Channel], new: impl Fn(Channel) -> C) -> Vec<C> {
    channels.iter().map(|c| new(c.clone())).collect()
}

/// A clustered client of `url`, ready.
pub async fn redis(url: &str) -> Result<fred::prelude::Client> {
    match tokio::time::timeout(REDIS_DEADLINE, feedline_redis::connect(url, &tls()?)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => bail!("cannot reach the Redis Cluster at {url}: {error}"),
        Err(_) => bail!(
            "cannot reach the Redis Cluster at {url}: no answer within {}s",
            REDIS_DEADLINE.as_secs()
        ),
    }
}

/// An error and its causes on one line (service-kit's, which the healthcheck prints too),
/// its newlines made spaces: a refused run is one line of stderr.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    feedline_service_kit::with_causes(error).replace('\n', " ")
}
