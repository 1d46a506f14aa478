//! The whole stack in one process for loadgen's tests (`feedline-stack`): a 3-master Redis
//! Cluster, post-service (SQLite, relay pointed at fanout-service), fanout-service,
//! feed-read-service and log-ingest-service (SQLite), each on an ephemeral port, healthy before
//! use. Authors with more than 20 followers are celebrities, so a small graph has some.
//! The services verify bearer tokens, and loadgen sends an admin's, as against `xtask up`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use feedline_loadgen::Target;
use feedline_stack::Service;

/// fanout-service's celebrity threshold here: low, so a small graph has celebrities.
pub const CELEBRITY_THRESHOLD: usize = 20;

/// The whole stack.
pub struct Stack {
    stack: feedline_stack::Stack,
}

impl Stack {
    pub async fn start() -> Stack {
        let threshold = CELEBRITY_THRESHOLD.to_string();
        let stack = feedline_stack::Stack::builder()
            .feed()
            .logs()
            .auth()
            .env(
                Service::Fanout,
                &[("FEEDLINE_CELEBRITY_THRESHOLD", threshold.as_str())],
            )
            .start()
            .await
            .unwrap();
        Stack { stack }
    }

    /// Where loadgen finds it.
    pub fn target(&self) -> Target {
        let stack = &self.stack;
        Target {
            post: stack.post.url(),
            fanout: stack.fanout.url(),
            feed: stack.feed.as_ref().unwrap().url(),
            logs: stack.logs.as_ref().unwrap().url(),
            redis_url: stack.cluster.url(),
            token: Some(stack.keys.as_ref().unwrap().admin_token("loadgen")),
        }
    }

    pub async fn stop(self) {
        self.stack.stop().await.unwrap();
    }
}
