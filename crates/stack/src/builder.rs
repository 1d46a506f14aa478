//! Which services a stack runs and with which variables; [`crate::launch`] starts them.

use anyhow::Result;
use feedline_service_kit::auth::DevKeys;
use feedline_test_harness::{Backend, TestCa};
use log_ingest_service::pipeline::FaultPlan;

use crate::{Services, Stack};

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

/// What to start. [`StackBuilder::start`] starts the whole stack: a 3-master cluster,
/// post-service (its relay polling every 50 ms and pointed at fanout-service) and
/// fanout-service, and feed-read-service and log-ingest-service when asked for.
/// [`StackBuilder::start_only`] starts only the services it names, and the cluster only when
/// one of them (or [`StackBuilder::cluster`]) needs it. Each database is SQLite unless
/// [`StackBuilder::database`] says otherwise.
#[derive(Debug, Default)]
pub struct StackBuilder {
    pub(crate) feed: bool,
    pub(crate) logs: bool,
    /// A partial stack's cluster, though none of its services needs one.
    pub(crate) cluster: bool,
    /// Each service's database engine, when not SQLite.
    pub(crate) backends: Vec<(Service, Backend)>,
    /// A service's database that the test owns: used as it is, neither created nor deleted.
    pub(crate) database_urls: Vec<(Service, String)>,
    /// Injected batch-write failures of log-ingest-service.
    pub(crate) logs_faults: FaultPlan,
    /// Applied after each service's own variables, so they win.
    pub(crate) overrides: Vec<(Service, String, String)>,
    /// Bearer tokens required, with a key of the stack's own.
    pub(crate) auth: bool,
    /// Every server, every call between services and the cluster on TLS, with a CA of the
    /// stack's own.
    pub(crate) tls: bool,
    /// Replicas per master of the cluster (0: 3 masters alone).
    pub(crate) redis_replicas: usize,
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

    /// Also runs log-ingest-service, on a database of its own.
    pub fn logs(mut self) -> Self {
        self.logs = true;
        self
    }

    /// Also starts the cluster in a [`StackBuilder::start_only`] stack whose services do not
    /// need one (a test that works on the timelines itself); the whole stack always has it.
    pub fn cluster(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// Runs post-service on a fresh database of `backend`: [`StackBuilder::database`].
    pub fn post_database(self, backend: Backend) -> Self {
        self.database(Service::Post, backend)
    }

    /// Runs `service` (post-service or log-ingest-service) on a fresh database of `backend` (a
    /// server's must be enabled: [`Backend::enabled`]; `start` fails otherwise).
    pub fn database(mut self, service: Service, backend: Backend) -> Self {
        self.backends.push((service, backend));
        self
    }

    /// Runs `service` on the database at `url`, which the test made and keeps: the stack
    /// neither creates nor deletes it.
    pub fn database_url(mut self, service: Service, url: &str) -> Self {
        self.database_urls.push((service, url.to_owned()));
        self
    }

    /// Makes log-ingest-service's batch writes fail as `faults` says.
    pub fn logs_faults(mut self, faults: FaultPlan) -> Self {
        self.logs_faults = faults;
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

    /// Starts the whole stack (a 3-master cluster, the databases, post-service, fanout-service
    /// and what [`StackBuilder::feed`] and [`StackBuilder::logs`] add), then waits until every
    /// service is SERVING and connects to post-service.
    pub async fn start(self) -> Result<Stack> {
        let wanted = [
            Some(Service::Post),
            Some(Service::Fanout),
            self.feed.then_some(Service::Feed),
            self.logs.then_some(Service::Logs),
        ];
        let wanted: Vec<Service> = wanted.into_iter().flatten().collect();
        Stack::new(crate::launch::launch(self, &wanted).await?).await
    }

    /// Starts only `services`, each on its database, over a cluster only when fanout-service
    /// or feed-read-service is among them (or [`StackBuilder::cluster`] asks for one), and
    /// waits until each is SERVING. A service whose peer does not run has that peer's address
    /// unset: post-service alone runs without its relay.
    pub async fn start_only(self, services: &[Service]) -> Result<Services> {
        crate::launch::launch(self, services).await
    }

    /// Makes the stack's CA and the variables that put every service on TLS, ahead of the
    /// test's own overrides.
    pub(crate) fn install_tls(&mut self) -> Result<TestCa> {
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
    pub(crate) fn install_auth(&mut self) -> Result<(DevKeys, tempfile::TempDir)> {
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
}
