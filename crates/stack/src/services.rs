//! The services a [`StackBuilder::start_only`](crate::StackBuilder::start_only) started, what
//! they run on, and the stop in a fixed order.

use anyhow::Result;
use feedline_service_kit::auth::DevKeys;
use feedline_test_harness::{RedisCluster, TestCa, TestDatabase};

use crate::{Running, Service};

/// Some of the stack's services (each `None` when not asked for), and what they run on.
pub struct Services {
    /// post-service.
    pub post: Option<Running>,
    /// fanout-service.
    pub fanout: Option<Running>,
    /// feed-read-service.
    pub feed: Option<Running>,
    /// log-ingest-service.
    pub logs: Option<Running>,
    /// Their databases and the JWKS file.
    pub(crate) held: Held,
    /// The throwaway cluster, when one of the services (or the test) needs it.
    pub cluster: Option<RedisCluster>,
    /// The key every service trusts, when the stack verifies tokens
    /// ([`crate::StackBuilder::auth`]): mint the tests' tokens with it.
    pub keys: Option<DevKeys>,
    /// The CA every service and node trusts, when the stack runs on TLS
    /// ([`crate::StackBuilder::tls`]); its files live as long as the stack.
    pub ca: Option<TestCa>,
}

/// What the services use and must outlive them: dropped only after `stop` stopped them.
#[derive(Default)]
pub(crate) struct Held {
    /// Each running service's database URL.
    pub(crate) database_urls: Vec<(Service, String)>,
    /// The databases the stack made: dropping one deletes it.
    pub(crate) databases: Vec<TestDatabase>,
    /// Holds the JWKS file while the services run.
    pub(crate) auth_dir: Option<tempfile::TempDir>,
}

impl Held {
    /// `service`'s database URL, when it runs on one.
    pub(crate) fn database_url(&self, service: Service) -> Option<&str> {
        let found = self.database_urls.iter().find(|(s, _)| *s == service);
        found.map(|(_, url)| url.as_str())
    }
}

impl Services {
    /// `service`'s database URL (post-service's or log-ingest-service's, when it runs), for a
    /// test that reads or writes its tables directly.
    pub fn database_url(&self, service: Service) -> Option<&str> {
        self.held.database_url(service)
    }

    /// Stops the services: the reader first, then the writer and its relay, then
    /// fanout-service (so the relay ends its stream while fanout-service still answers), then
    /// log ingestion. The databases and the cluster go after them.
    pub async fn stop(self) -> Result<()> {
        let running = [self.feed, self.post, self.fanout, self.logs];
        for service in running.into_iter().flatten() {
            service.stop().await?;
        }
        drop(self.held.databases);
        drop(self.held.auth_dir);
        drop(self.ca);
        drop(self.cluster);
        Ok(())
    }
}
