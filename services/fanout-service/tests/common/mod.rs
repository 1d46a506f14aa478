//! The fan-out path in one process: a throwaway Redis Cluster, post-service (SQLite, relay on)
//! and fanout-service on ephemeral ports (`feedline-stack`), with clients and a timeline reader.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use fanout_service::timelines::{PostServiceSource, TimelineConfig, Timelines};
use feedline_stack::Service;
use feedline_test_harness::eventually;

/// The whole fan-out path; dereferences to the shared stack (`stack.cluster`, `stack.fanout`,
/// and through it post-service's clients: `stack.user(..)`, `stack.post(..)`, ...).
pub struct Stack {
    stack: feedline_stack::Stack,
    pub timelines: Timelines,
    /// A raw client, for keys the Timelines API does not read.
    pub redis: fred::prelude::Client,
}

feedline_stack::deref_to_stack!(Stack, stack);

impl Stack {
    /// Starts everything; `fanout_env` adds or overrides fanout-service variables.
    pub async fn start(fanout_env: &[(&str, &str)]) -> Stack {
        Self::start_with(|builder| builder.env(Service::Fanout, fanout_env)).await
    }

    /// Starts everything as `configure` shapes the builder.
    pub async fn start_with(
        configure: impl FnOnce(feedline_stack::StackBuilder) -> feedline_stack::StackBuilder,
    ) -> Stack {
        let stack = configure(feedline_stack::Stack::builder())
            .start()
            .await
            .unwrap();
        let client = feedline_redis::connect(&stack.cluster.url(), &Default::default())
            .await
            .unwrap();
        let timelines = Timelines::new(
            client.clone(),
            Arc::new(PostServiceSource::new(
                stack.post_channel.clone(),
                &Default::default(),
            )),
            TimelineConfig::default(),
        );
        Stack {
            stack,
            timelines,
            redis: client,
        }
    }

    pub async fn stop(self) {
        self.stack.stop().await.unwrap();
    }

    /// Starts a (second) fanout-service on `listener`, on this stack's cluster and
    /// post-service, with `env` added: fan-out resuming where post-service's relay was pointed
    /// while it was stopped. Holding the listener meanwhile keeps the address from being taken
    /// (the relay's connection waits in its backlog).
    pub async fn start_fanout_on(
        &self,
        listener: tokio::net::TcpListener,
        env: &[(&str, &str)],
    ) -> feedline_stack::Running {
        let addr = listener.local_addr().unwrap();
        let own = [
            ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
            ("FEEDLINE_REDIS_URL", self.cluster.url()),
            ("FEEDLINE_POST_SERVICE_URL", self.post.url()),
        ];
        let mut vars = feedline_service_kit::Env::new();
        for (name, value) in own
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(env.iter().copied())
        {
            vars.insert(name.to_owned(), value.to_owned());
        }
        let config = fanout_service::Config::from_env(&vars).unwrap();
        feedline_stack::Running::spawn(listener, config, fanout_service::run).unwrap()
    }

    /// The user's timeline, newest first.
    pub async fn timeline(&self, user_id: i64) -> Vec<i64> {
        self.timelines.timeline(user_id, 10_000).await.unwrap()
    }

    /// Polls until `post_id` is in author `author_id`'s own list (`ap:{A}`).
    pub async fn wait_for_author_list(&self, author_id: i64, post_id: i64, deadline: Duration) {
        use fred::prelude::SortedSetsInterface as _;
        let member = format!("{post_id:019}");
        let what = format!("post {post_id} in ap:{{{author_id}}}");
        eventually(&what, deadline, || async {
            let score: Option<f64> = self
                .redis
                .zscore(format!("ap:{{{author_id}}}"), member.as_str())
                .await?;
            anyhow::ensure!(score.is_some(), "not there");
            Ok(())
        })
        .await
        .unwrap();
    }

    /// Polls until `follower` is in author `author_id`'s follower index (`fl:{A}`).
    pub async fn wait_for_follower_index(&self, author_id: i64, follower: i64, deadline: Duration) {
        use fred::prelude::SetsInterface as _;
        let what = format!("{follower} in fl:{{{author_id}}}");
        eventually(&what, deadline, || async {
            let there: bool = self
                .redis
                .sismember(format!("fl:{{{author_id}}}"), follower.to_string())
                .await?;
            anyhow::ensure!(there, "not there");
            Ok(())
        })
        .await
        .unwrap();
    }

    /// Polls the timeline until it equals `expected` (newest first) or `deadline` passes.
    pub async fn wait_for_timeline(&self, user_id: i64, expected: &[i64], deadline: Duration) {
        let what = format!("timeline of {user_id} equal to {expected:?}");
        eventually(&what, deadline, || async {
            let got = self.timeline(user_id).await;
            anyhow::ensure!(got == expected, "got {got:?}");
            Ok(())
        })
        .await
        .unwrap();
    }
}
