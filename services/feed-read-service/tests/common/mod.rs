//! The read path in one process: a throwaway Redis Cluster, post-service (SQLite, relay on),
//! fanout-service and feed-read-service on ephemeral ports, with clients.
#![allow(dead_code)]

use std::time::Duration;

use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::feed::v1::{FeedItemSource, GetFeedRequest, GetFeedResponse};
use feedline_proto::post::v1::Post;
use feedline_redis::keys;
use feedline_stack::Service;
use feedline_test_harness::eventually;
use fred::prelude::SortedSetsInterface as _;
use tonic::transport::Channel;

/// How long fan-out may take in a test before it counts as lost.
pub const FANOUT_DEADLINE: Duration = Duration::from_secs(20);

/// One user's view of a post in a feed: (post id, source).
pub type Seen = (i64, FeedItemSource);

/// The whole stack; dereferences to the shared stack (`stack.cluster`, `stack.feed`, and through
/// it post-service's clients: `stack.user(..)`, `stack.post(..)`, ...).
pub struct Stack {
    stack: feedline_stack::Stack,
    pub reader: FeedServiceClient<Channel>,
    /// A raw client, to look at and damage what the services keep in Redis.
    pub redis: fred::prelude::Client,
}

feedline_stack::deref_to_stack!(Stack, stack);

impl Stack {
    /// Starts everything; `fanout_env` adds or overrides fanout-service variables.
    pub async fn start(fanout_env: &[(&str, &str)]) -> Stack {
        let stack = feedline_stack::Stack::builder()
            .feed()
            .env(Service::Fanout, fanout_env)
            .start()
            .await
            .unwrap();
        let reader = stack.feed.as_ref().unwrap().channel().await.unwrap();
        let redis = feedline_redis::connect(&stack.cluster.url(), &Default::default())
            .await
            .unwrap();
        Stack {
            stack,
            reader: FeedServiceClient::new(reader),
            redis,
        }
    }

    pub async fn stop(self) {
        self.stack.stop().await.unwrap();
    }

    /// One GetFeed call.
    pub async fn get_feed(
        &self,
        user_id: i64,
        page_size: Option<i32>,
        page_token: &str,
    ) -> Result<GetFeedResponse, tonic::Status> {
        self.reader
            .clone()
            .get_feed(GetFeedRequest {
                user_id,
                page_size,
                page_token: page_token.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Walks the whole feed with pages of `page_size`: the items, and how many pages it took.
    pub async fn walk(&self, user_id: i64, page_size: i32) -> (Vec<Post>, usize) {
        let mut items = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = self
                .get_feed(user_id, Some(page_size), &token)
                .await
                .unwrap();
            pages += 1;
            assert!(page.items.len() <= page_size as usize);
            items.extend(page.items.into_iter().map(|item| item.post.unwrap()));
            if page.next_page_token.is_empty() {
                return (items, pages);
            }
            token = page.next_page_token;
            assert!(pages < 10_000, "the walk does not end");
        }
    }

    /// The first page of up to 100: (post id, source), newest first.
    pub async fn first_page(&self, user_id: i64) -> Vec<Seen> {
        let page = self.get_feed(user_id, Some(100), "").await.unwrap();
        page.items
            .iter()
            .map(|item| (item.post.as_ref().unwrap().post_id, item.source()))
            .collect()
    }

    /// Polls the first page until its post ids are `expected` (newest first).
    pub async fn wait_for_feed(&self, user_id: i64, expected: &[i64]) {
        let what = format!("feed of {user_id} equal to {expected:?}");
        eventually(&what, FANOUT_DEADLINE, || async {
            let got: Vec<i64> = self.first_page(user_id).await.iter().map(|s| s.0).collect();
            anyhow::ensure!(got == expected, "got {got:?}");
            Ok(())
        })
        .await
        .unwrap();
    }
    /// Polls until `post_id` has left `user_id`'s timeline in Redis. The feed hides a deleted
    /// post as soon as its tombstone is written, before the retract reaches the timelines, so a
    /// test that edits a timeline after a delete waits for this first.
    pub async fn wait_until_retracted(&self, user_id: i64, post_id: i64) {
        let what = format!("post {post_id} gone from the timeline of {user_id}");
        eventually(&what, FANOUT_DEADLINE, || async {
            let score: Option<f64> = self
                .redis
                .zscore(keys::timeline(user_id), keys::member(post_id))
                .await?;
            anyhow::ensure!(score.is_none(), "still there");
            Ok(())
        })
        .await
        .unwrap();
    }
}

/// Post ids newest first, as a feed orders them: by (create time, id), descending.
pub fn newest_first(posts: &[Post]) -> Vec<i64> {
    let mut keyed: Vec<(i64, i64)> = posts
        .iter()
        .map(|p| {
            let millis = feedline_proto::timestamp_to_millis(p.create_time.as_ref().unwrap());
            (millis.unwrap(), p.post_id)
        })
        .collect();
    keyed.sort_by(|a, b| b.cmp(a));
    keyed.into_iter().map(|(_, id)| id).collect()
}
