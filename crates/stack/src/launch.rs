//! Starting the services a [`StackBuilder`] names, in dependency order, each on its database
//! and an ephemeral port, and waiting until every one is SERVING.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use feedline_service_kit::{CancellationToken, ConfigError, Env, TlsConfig};
use feedline_test_harness::{
    Backend, RedisCluster, TestDatabase, ephemeral_listener, wait_for_serving, wait_for_serving_tls,
};
use tokio::net::TcpListener;

use crate::services::Held;
use crate::{Running, Service, Services, StackBuilder};

/// How long each service may take to report SERVING (a cold debug build migrates slowly).
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Starts `wanted` as `builder` configures them (see [`StackBuilder::start_only`]).
pub(crate) async fn launch(mut builder: StackBuilder, wanted: &[Service]) -> Result<Services> {
    let runs = |service| wanted.contains(&service);
    let auth = if builder.auth {
        Some(builder.install_auth()?)
    } else {
        None
    };
    let ca = if builder.tls {
        Some(builder.install_tls()?)
    } else {
        None
    };
    let cluster = if builder.cluster || runs(Service::Fanout) || runs(Service::Feed) {
        let cluster = match &ca {
            Some(ca) => RedisCluster::start_tls(3, builder.redis_replicas, ca).await,
            None => RedisCluster::start(3, builder.redis_replicas).await,
        };
        Some(cluster.context("redis cluster")?)
    } else {
        None
    };
    let (keys, auth_dir) = auth.unzip();
    let mut held = Held {
        auth_dir,
        ..Held::default()
    };
    let post_db = builder.database_for(Service::Post, runs, &mut held).await?;
    let logs_db = builder.database_for(Service::Logs, runs, &mut held).await?;
    let post_listener = listener_if(runs(Service::Post)).await?;
    let fanout_listener = listener_if(runs(Service::Fanout)).await?;
    let feed_listener = listener_if(runs(Service::Feed)).await?;
    let logs_listener = listener_if(runs(Service::Logs)).await?;
    // post-service and fanout-service each need the other's address before either runs.
    let scheme = if ca.is_some() { "https" } else { "http" };
    let url = |listener: &Option<TcpListener>| -> Result<Option<String>> {
        let addr = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        Ok(addr.map(|addr| format!("{scheme}://{addr}")))
    };
    let (post_url, fanout_url) = (url(&post_listener)?, url(&fanout_listener)?);
    let redis_url = cluster.as_ref().map(RedisCluster::url);
    // What both sides of the timelines read (`feedline_redis::TimelineEnv`).
    let timeline_vars = vars([
        ("FEEDLINE_REDIS_URL", redis_url.clone()),
        ("FEEDLINE_POST_SERVICE_URL", post_url),
    ]);

    let fanout = fanout_listener.map(|listener| {
        let config = fanout_service::Config::from_env;
        builder.spawn(
            Service::Fanout,
            listener,
            timeline_vars.clone(),
            config,
            fanout_service::run,
        )
    });
    let post = post_listener.map(|listener| {
        let vars = vars([
            ("FEEDLINE_DATABASE_URL", post_db.clone()),
            ("FEEDLINE_FANOUT_URL", fanout_url),
            ("FEEDLINE_RELAY_POLL_MS", Some("50".to_owned())),
            // Where the per-user rate limits count (read with authentication on).
            ("FEEDLINE_REDIS_URL", redis_url),
        ]);
        let config = post_service::Config::from_env;
        builder.spawn(Service::Post, listener, vars, config, post_service::run)
    });
    let feed = feed_listener.map(|listener| {
        let config = feed_read_service::Config::from_env;
        builder.spawn(
            Service::Feed,
            listener,
            timeline_vars,
            config,
            feed_read_service::run,
        )
    });
    let logs = logs_listener.map(|listener| {
        let vars = vars([("FEEDLINE_DATABASE_URL", logs_db.clone())]);
        let faults = builder.logs_faults;
        let config = |env: &Env| {
            let mut config = log_ingest_service::Config::from_env(env)?;
            config.pipeline.faults = faults;
            Ok(config)
        };
        builder.spawn(
            Service::Logs,
            listener,
            vars,
            config,
            log_ingest_service::run,
        )
    });
    let mut services = Services {
        cluster,
        post: post.transpose()?,
        fanout: fanout.transpose()?,
        feed: feed.transpose()?,
        logs: logs.transpose()?,
        keys,
        ca,
        held,
    };
    let ca = services.ca.as_ref();
    let running = [
        services.post.as_mut(),
        services.fanout.as_mut(),
        services.feed.as_mut(),
        services.logs.as_mut(),
    ];
    for service in running.into_iter().flatten() {
        let addr = service.addr;
        match ca {
            Some(ca) => {
                service.tls = Some(TlsConfig::from_pem(None, Some(ca.ca_pem().into())));
                let serving = wait_for_serving_tls(addr, ca.ca_pem(), READY_DEADLINE);
                service.until_serving(serving).await?;
            }
            None => {
                let serving = wait_for_serving(addr, "", READY_DEADLINE);
                service.until_serving(serving).await?;
            }
        }
    }
    Ok(services)
}

/// The variables of `pairs` that have a value.
fn vars<const N: usize>(pairs: [(&'static str, Option<String>); N]) -> Vec<(&'static str, String)> {
    let set = pairs.into_iter().map(|(k, v)| v.map(|v| (k, v)));
    set.flatten().collect()
}

impl StackBuilder {
    /// The database URL of `service` when it runs: the test's own ([`StackBuilder::database_url`])
    /// or a fresh one of its backend, which `held` keeps.
    async fn database_for(
        &self,
        service: Service,
        runs: impl Fn(Service) -> bool,
        held: &mut Held,
    ) -> Result<Option<String>> {
        if !runs(service) {
            return Ok(None);
        }
        let url = if let Some((_, url)) = self.database_urls.iter().find(|(s, _)| *s == service) {
            url.clone()
        } else {
            let backend = self.backends.iter().rev().find(|(s, _)| *s == service);
            let backend = backend.map_or(Backend::Sqlite, |(_, backend)| *backend);
            let database = TestDatabase::create(backend)
                .await?
                .with_context(|| format!("the {} backend is not enabled", backend.name()))?;
            let url = database.url().to_owned();
            held.databases.push(database);
            url
        };
        held.database_urls.push((service, url.clone()));
        Ok(Some(url))
    }

    /// Reads `service`'s config from its listen address, `vars` and the overrides, and spawns
    /// its `run` on `listener`.
    fn spawn<C, F>(
        &self,
        service: Service,
        listener: TcpListener,
        vars: Vec<(&str, String)>,
        config: impl FnOnce(&Env) -> Result<C, ConfigError>,
        run: impl FnOnce(C, TcpListener, CancellationToken) -> F,
    ) -> Result<Running>
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listen = ("FEEDLINE_LISTEN_ADDR", listener.local_addr()?.to_string());
        let mut env: Env = [listen]
            .into_iter()
            .chain(vars)
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let overrides = self.overrides.iter().filter(|(s, ..)| *s == service);
        env.extend(overrides.map(|(_, k, v)| (k.clone(), v.clone())));
        let config = config(&env).with_context(|| format!("{service:?} config"))?;
        Running::spawn(listener, config, run)
    }
}

/// A listener when the service runs.
async fn listener_if(wanted: bool) -> Result<Option<TcpListener>> {
    Ok(if wanted {
        Some(ephemeral_listener().await?)
    } else {
        None
    })
}
