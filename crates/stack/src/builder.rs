//! Which services a stack runs and with which variables, and starting them in dependency order.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use feedline_service_kit::auth::DevKeys;
use feedline_service_kit::{CancellationToken, ConfigError, Env, TlsConfig};
use feedline_test_harness::{
    Backend, RedisCluster, Social, TestCa, TestDatabase, ephemeral_listener, wait_for_serving,
    wait_for_serving_tls,
};
use tokio::net::TcpListener;

use crate::{Running, Stack};

/// How long each service may take to report SERVING (a cold debug build migrates slowly).
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A service of the stack, to name whose environment [`StackBuilder::env`] changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// post-service.
    Post,
    /// fanout-service.
    Fanout,
    /// feed-read-service.
    Feed,
    /// log-ingest-service.
    Logs,
}

/// What to start. post-service (SQLite unless [`StackBuilder::post_database`] says otherwise,
/// its relay polling every 50 ms and pointed at fanout-service) and fanout-service always run;
/// feed-read-service and log-ingest-service only when asked for.
#[derive(Debug, Default)]
pub struct StackBuilder {
    feed: bool,
    logs: bool,
    /// post-service's database engine; SQLite when None.
    post_backend: Option<Backend>,
    /// Applied after each service's own variables, so they win.
    overrides: Vec<(Service, String, String)>,
    /// Bearer tokens required, with a key of the stack's own.
    auth: bool,
    /// Every server, every call between services and the cluster on TLS, with a CA of the
    /// stack's own.
    tls: bool,
    /// Replicas per master of the cluster (0: 3 masters alone).
    redis_replicas: usize,
}

/// `iss` and `aud` of the tokens of a stack with [`StackBuilder::auth`].
pub const ISSUER: &str = "https://feedline.test";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "feedline";

impl StackBuilder {
    /// Also runs feed-read-service, on the cluster and post-service.
    pub fn feed(mut self) -> Self {
        self.feed = true;
        self
    }

    /// Also runs log-ingest-service, on a SQLite database of its own.
    pub fn logs(mut self) -> Self {
        self.logs = true;
        self
    }

    /// Runs post-service on a fresh database of `backend` (a server's must be enabled:
    /// [`Backend::enabled`]; `start` fails otherwise).
    pub fn post_database(mut self, backend: Backend) -> Self {
        self.post_backend = Some(backend);
        self
    }

    /// Turns on bearer tokens in every service, trusting a key of the stack's own:
    /// [`Stack::keys`] mints tokens, and the services present service tokens to each other.
    pub fn auth(mut self) -> Self {
        self.auth = true;
        self
    }

    /// Runs everything on TLS: a throwaway CA signs a certificate for 127.0.0.1; every service
    /// serves TLS only, calls the others on `https://` and the cluster (TLS only, too) on
    /// `rediss-cluster://`, trusting that CA ([`Stack::ca`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Gives each of the cluster's 3 masters `replicas` replicas (none by default), so a test
    /// can fail a master over (`stack.cluster.kill_master(..)`).
    pub fn redis_replicas(mut self, replicas: usize) -> Self {
        self.redis_replicas = replicas;
        self
    }

    /// Adds or overrides variables of `service` (ignored for a service that does not run).
    pub fn env(mut self, service: Service, pairs: &[(&str, &str)]) -> Self {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (service, k.to_string(), v.to_string()));
        self.overrides.extend(pairs);
        self
    }

    /// Starts a 3-master cluster, the databases and the services, then waits until every
    /// service is SERVING and connects to post-service.
    pub async fn start(mut self) -> Result<Stack> {
        let auth = if self.auth {
            Some(self.install_auth()?)
        } else {
            None
        };
        let ca = if self.tls {
            Some(self.install_tls()?)
        } else {
            None
        };
        let cluster = match &ca {
            Some(ca) => RedisCluster::start_tls(3, self.redis_replicas, ca).await,
            None => RedisCluster::start(3, self.redis_replicas).await,
        };
        let cluster = cluster.context("redis cluster")?;
        let scheme = if ca.is_some() { "https" } else { "http" };
        let backend = self.post_backend.unwrap_or(Backend::Sqlite);
        let post_db = TestDatabase::create(backend)
            .await?
            .with_context(|| format!("the {} backend is not enabled", backend.name()))?;
        let logs_db = if self.logs {
            Some(TestDatabase::sqlite().await?)
        } else {
            None
        };
        let post_listener = ephemeral_listener().await?;
        let fanout_listener = ephemeral_listener().await?;
        let feed_listener = listener_if(self.feed).await?;
        let logs_listener = listener_if(self.logs).await?;
        // post-service and fanout-service each need the other's address before either runs.
        let post_url = format!("{scheme}://{}", post_listener.local_addr()?);
        let fanout_url = format!("{scheme}://{}", fanout_listener.local_addr()?);
        // What both sides of the timelines read (`feedline_redis::TimelineEnv`).
        let timeline_vars = [
            ("FEEDLINE_REDIS_URL", cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", post_url),
        ];

        let fanout = self.spawn(
            Service::Fanout,
            fanout_listener,
            timeline_vars.clone(),
            fanout_service::Config::from_env,
            fanout_service::run,
        )?;
        let post = self.spawn(
            Service::Post,
            post_listener,
            [
                ("FEEDLINE_DATABASE_URL", post_db.url().to_owned()),
                ("FEEDLINE_FANOUT_URL", fanout_url),
                ("FEEDLINE_RELAY_POLL_MS", "50".to_owned()),
                // Where the per-user rate limits count (read with authentication on).
                ("FEEDLINE_REDIS_URL", cluster.url()),
            ],
            post_service::Config::from_env,
            post_service::run,
        )?;
        let feed = feed_listener.map(|listener| {
            self.spawn(
                Service::Feed,
                listener,
                timeline_vars.clone(),
                feed_read_service::Config::from_env,
                feed_read_service::run,
            )
        });
        let feed = feed.transpose()?;
        let logs = logs_listener.zip(logs_db.as_ref()).map(|(listener, db)| {
            self.spawn(
                Service::Logs,
                listener,
                [("FEEDLINE_DATABASE_URL", db.url().to_owned())],
                log_ingest_service::Config::from_env,
                log_ingest_service::run,
            )
        });
        let logs = logs.transpose()?;

        let (mut post, mut fanout, mut feed, mut logs) = (post, fanout, feed, logs);
        let running = [
            Some(&mut post),
            Some(&mut fanout),
            feed.as_mut(),
            logs.as_mut(),
        ];
        for service in running.into_iter().flatten() {
            match &ca {
                Some(ca) => {
                    service.tls = Some(TlsConfig::from_pem(None, Some(ca.ca_pem().into())));
                    wait_for_serving_tls(service.addr, ca.ca_pem(), READY_DEADLINE).await?;
                }
                None => wait_for_serving(service.addr, "", READY_DEADLINE).await?,
            }
        }
        let post_channel = post.channel().await?;
        Ok(Stack {
            cluster,
            social: Social::new(post_channel.clone()),
            post_channel,
            post,
            fanout,
            feed,
            logs,
            databases: [post_db].into_iter().chain(logs_db).collect(),
            keys: auth.as_ref().map(|(keys, _)| keys.clone()),
            auth_dir: auth.map(|(_, dir)| dir),
            ca,
        })
    }

    /// Makes the stack's CA and the variables that put every service on TLS, ahead of the
    /// test's own overrides.
    fn install_tls(&mut self) -> Result<TestCa> {
        let ca = TestCa::new()?;
        let path = |p: std::path::PathBuf| p.display().to_string();
        let mut vars = Vec::new();
        for service in [Service::Post, Service::Fanout, Service::Feed, Service::Logs] {
            for (name, value) in [
                ("FEEDLINE_TLS_CERT", path(ca.cert_file())),
                ("FEEDLINE_TLS_KEY", path(ca.key_file())),
                ("FEEDLINE_TLS_CA", path(ca.ca_file())),
            ] {
                vars.push((service, name.to_owned(), value));
            }
        }
        self.overrides.splice(0..0, vars);
        Ok(ca)
    }

    /// Makes the stack's key and JWKS, and the variables that make every service verify
    /// tokens (and the callers among them present one), ahead of the test's own overrides.
    fn install_auth(&mut self) -> Result<(DevKeys, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let keys = DevKeys::generate(ISSUER, AUDIENCE);
        keys.save(dir.path())?;
        let jwks = DevKeys::jwks_path(dir.path()).display().to_string();
        let mut vars = Vec::new();
        for service in [Service::Post, Service::Fanout, Service::Feed, Service::Logs] {
            vars.push((service, "FEEDLINE_AUTH_JWKS".to_owned(), jwks.clone()));
            vars.push((
                service,
                "FEEDLINE_AUTH_ISSUER".to_owned(),
                ISSUER.to_owned(),
            ));
            vars.push((
                service,
                "FEEDLINE_AUTH_AUDIENCE".to_owned(),
                AUDIENCE.to_owned(),
            ));
            let name = format!("{service:?}").to_lowercase();
            let token = keys.service_token(&format!("{name}-service"));
            vars.push((service, "FEEDLINE_SERVICE_TOKEN".to_owned(), token));
        }
        self.overrides.splice(0..0, vars);
        Ok((keys, dir))
    }

    /// Reads `service`'s config from its listen address, `vars` and the overrides, and spawns
    /// its `run` on `listener`.
    fn spawn<C, F, const N: usize>(
        &self,
        service: Service,
        listener: TcpListener,
        vars: [(&str, String); N],
        from_env: fn(&Env) -> Result<C, ConfigError>,
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
        let config = from_env(&env).with_context(|| format!("{service:?} config"))?;
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
