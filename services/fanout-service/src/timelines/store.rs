//! `Timelines`: the handle that applies fan-out events to the Redis Cluster and reads back.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use feedline_proto::fanout::v1::FanoutEvent;
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_redis::timeline::{self, Read, Rules};
use fred::clients::Client;
use fred::types::Value;

use super::replication::{ReplicaCounts, count_reconnections};
use super::{GraphSource, GroupApplied, TimelineConfig, TimelineError};

/// What applying one event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Home timelines written (0 for a celebrity's post: readers pull it).
    pub recipients: usize,
    /// Redis commands sent, reads and writes.
    pub commands: usize,
    /// Per-node pipelines used for the home timeline writes.
    pub pipelines: usize,
}

/// Applies fan-out events to home timelines; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Timelines {
    pub(super) inner: Arc<Inner>,
}

/// What every clone shares.
pub(super) struct Inner {
    /// Connected, clustered; its reconnection and command timeout policy are the caller's.
    pub(super) redis: Client,
    pub(super) source: Arc<dyn GraphSource>,
    pub(super) config: TimelineConfig,
    /// The trim and TTL of `config`, as `feedline_redis::timeline` applies them.
    pub(super) rules: Rules,
    /// Connected replicas per master, for the durability step.
    pub(super) replicas: ReplicaCounts,
    /// The client's reconnections so far (counted only with the durability step on).
    pub(super) reconnects: Arc<AtomicU64>,
}

impl Timelines {
    /// Wraps an already connected (clustered) client; `source` rebuilds what Redis lacks.
    /// Call it inside a Tokio runtime: with the durability step on, it spawns the task that
    /// counts reconnections.
    pub fn new(redis: Client, source: Arc<dyn GraphSource>, config: TimelineConfig) -> Self {
        let reconnects = Arc::new(AtomicU64::new(0));
        if config.replication.replicas > 0 {
            count_reconnections(&redis, reconnects.clone());
        }
        Self {
            inner: Arc::new(Inner {
                redis,
                source,
                rules: Rules::new(config.timeline_cap, config.post_cache_ttl),
                config,
                replicas: ReplicaCounts::default(),
                reconnects,
            }),
        }
    }

    /// Applies one event; Ok only when every Redis write for it is confirmed (and, with the
    /// durability step on, acknowledged by the replicas asked for). Idempotent:
    /// applying it again leaves the same state, so a retry after a partial failure converges.
    /// No retry happens here: the caller decides with [`TimelineError::is_permanent`].
    #[tracing::instrument(skip_all, fields(event_id = event.event_id))]
    pub async fn apply(&self, event: &FanoutEvent) -> Result<Applied, TimelineError> {
        self.replicated(self.apply_unreplicated(event)).await
    }

    /// [`Timelines::apply`] without the durability step.
    async fn apply_unreplicated(&self, event: &FanoutEvent) -> Result<Applied, TimelineError> {
        match &event.kind {
            None => Err(TimelineError::Malformed("event has no kind".into())),
            Some(Kind::DeliverPost(deliver)) => Ok(self.deliver_many(&[deliver]).await?.single()),
            Some(Kind::RetractPost(retract)) => self.retract(retract).await,
            Some(Kind::AddFollow(follow)) => Ok(self.add_follows(&[follow]).await?.single()),
            Some(Kind::RemoveFollow(unfollow)) => self.remove_follow(unfollow).await,
        }
    }

    /// Applies DeliverPost events of any authors as one group: every timeline gets one ZADD
    /// carrying all the group's posts bound for it. The same end state as applying them one by
    /// one, provided no other event of their authors falls between them (the caller orders).
    /// Err(Malformed) if an event is not a valid delivery: the caller then applies one by one.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn apply_deliveries(
        &self,
        events: &[&FanoutEvent],
    ) -> Result<GroupApplied, TimelineError> {
        let deliveries = all_of(
            events,
            "apply_deliveries: not a delivery",
            |kind| match kind {
                Kind::DeliverPost(deliver) => Some(deliver),
                _ => None,
            },
        )?;
        self.replicated(self.deliver_many(&deliveries)).await
    }

    /// Applies AddFollow events of any followees as one group: one pipeline indexes every edge
    /// and reads every backfill, and each follower's timeline gets one ZADD. The same end state
    /// as applying them one by one, provided no other event of their followees falls between
    /// them (the caller orders). Err(Malformed) if an event is not a valid follow.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn apply_follows(
        &self,
        events: &[&FanoutEvent],
    ) -> Result<GroupApplied, TimelineError> {
        let follows = all_of(events, "apply_follows: not a follow", |kind| match kind {
            Kind::AddFollow(follow) => Some(follow),
            _ => None,
        })?;
        self.replicated(self.add_follows(&follows)).await
    }

    /// Runs `writes` after a replication mark, then the durability step (a future does nothing
    /// until awaited, so the mark comes first).
    async fn replicated<T>(
        &self,
        writes: impl Future<Output = Result<T, TimelineError>>,
    ) -> Result<T, TimelineError> {
        let mark = self.replication_mark();
        let done = writes.await?;
        self.await_replication(mark).await?;
        Ok(done)
    }

    /// Newest-first post ids of `user_id`'s home timeline, at most `limit`.
    pub async fn timeline(&self, user_id: i64, limit: usize) -> Result<Vec<i64>, TimelineError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let newest = Read::NewestInTimeline {
            user: user_id,
            count: limit,
        };
        let reply: Value = timeline::read(&self.inner.redis, newest).await?;
        Ok(timeline::post_ids(reply)?)
    }

    /// PINGs every master in the cached routing table (2 s each). For the health probe.
    pub async fn ping(&self) -> Result<(), TimelineError> {
        Ok(feedline_redis::ping_masters(&self.inner.redis).await?)
    }
}

/// The payloads `pick` finds in `events`, or Malformed(`why`) if one event has another kind.
fn all_of<'e, T>(
    events: &[&'e FanoutEvent],
    why: &str,
    pick: impl Fn(&'e Kind) -> Option<&'e T>,
) -> Result<Vec<&'e T>, TimelineError> {
    events
        .iter()
        .map(|event| event.kind.as_ref().and_then(&pick))
        .map(|payload| payload.ok_or_else(|| TimelineError::Malformed(why.into())))
        .collect()
}
