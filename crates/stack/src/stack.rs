//! The running stack: what a test talks to, and the stop in a fixed order.

use anyhow::Result;
use feedline_test_harness::{RedisCluster, Social, TestDatabase};
use tonic::transport::Channel;

use crate::{Running, StackBuilder};

/// Services started by a [`StackBuilder`], and what they run on.
pub struct Stack {
    /// The throwaway cluster; dropping it kills the nodes (a test may `stop` it early).
    pub cluster: RedisCluster,
    /// post-service.
    pub post: Running,
    /// fanout-service.
    pub fanout: Running,
    /// feed-read-service, when [`StackBuilder::feed`] asked for it.
    pub feed: Option<Running>,
    /// log-ingest-service, when [`StackBuilder::logs`] asked for it.
    pub logs: Option<Running>,
    /// A connected channel to post-service.
    pub post_channel: Channel,
    /// post-service's clients over `post_channel`; also what `Stack` dereferences to.
    pub social: Social,
    /// post-service's (and log-ingest-service's) database: dropping one deletes it, so they
    /// are dropped only after `stop` has stopped the services that use them.
    pub(crate) databases: Vec<TestDatabase>,
    /// The key every service trusts, when the stack verifies tokens
    /// ([`crate::StackBuilder::auth`]): mint the tests' tokens with it.
    pub keys: Option<feedline_service_kit::auth::DevKeys>,
    /// Holds the JWKS file while the services run.
    pub(crate) auth_dir: Option<tempfile::TempDir>,
    /// The CA every service and node trusts, when the stack runs on TLS
    /// ([`crate::StackBuilder::tls`]); its files live as long as the stack.
    pub ca: Option<feedline_test_harness::TestCa>,
}

impl std::ops::Deref for Stack {
    type Target = Social;

    /// post-service's clients: `stack.user(..)`, `stack.post(..)`, ...
    fn deref(&self) -> &Social {
        &self.social
    }
}

impl Stack {
    /// What to start; [`StackBuilder::start`] starts it.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// post-service's database URL, for a test that reads or writes its tables directly.
    pub fn post_database_url(&self) -> &str {
        self.databases[0].url()
    }

    /// Stops the services: the reader first, then the writer and its relay, then fanout-service
    /// (so the relay ends its stream while fanout-service still answers), then log ingestion. The cluster
    /// and the databases go after them.
    pub async fn stop(self) -> Result<()> {
        if let Some(feed) = self.feed {
            feed.stop().await?;
        }
        self.post.stop().await?;
        self.fanout.stop().await?;
        if let Some(logs) = self.logs {
            logs.stop().await?;
        }
        drop(self.databases);
        drop(self.auth_dir);
        drop(self.ca);
        Ok(())
    }
}
