//! The running stack: what a test talks to, and the stop in a fixed order.

use anyhow::{Context, Result};
use feedline_test_harness::{RedisCluster, Social};
use tonic::transport::Channel;

use crate::services::Held;
use crate::{Running, Service, Services, StackBuilder};

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
    /// The databases and the JWKS file, kept until `stop` has stopped the services.
    held: Held,
    /// The key every service trusts, when the stack verifies tokens
    /// ([`crate::StackBuilder::auth`]): mint the tests' tokens with it.
    pub keys: Option<feedline_service_kit::auth::DevKeys>,
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

    /// The whole stack out of `services` (which must hold the cluster, post-service and
    /// fanout-service), connected to post-service.
    pub(crate) async fn new(services: Services) -> Result<Stack> {
        let post = services.post.context("the stack runs post-service")?;
        let post_channel = post.channel().await?;
        Ok(Stack {
            cluster: services.cluster.context("the stack runs a cluster")?,
            social: Social::new(post_channel.clone()),
            post_channel,
            post,
            fanout: services.fanout.context("the stack runs fanout-service")?,
            feed: services.feed,
            logs: services.logs,
            held: services.held,
            keys: services.keys,
            ca: services.ca,
        })
    }

    /// post-service's database URL, for a test that reads or writes its tables directly.
    pub fn post_database_url(&self) -> &str {
        self.held.database_url(Service::Post).unwrap_or_default()
    }

    /// Stops the services in [`Services::stop`]'s order; the cluster and the databases go
    /// after them.
    pub async fn stop(self) -> Result<()> {
        let services = Services {
            cluster: Some(self.cluster),
            post: Some(self.post),
            fanout: Some(self.fanout),
            feed: self.feed,
            logs: self.logs,
            keys: self.keys,
            ca: self.ca,
            held: self.held,
        };
        services.stop().await
    }
}
