//! Writes grouped per cluster node: one pipeline per node (split at `max_pipeline` commands),
//! all sent at once, every reply awaited. What each write is, and its wire form, is
//! `feedline_redis::timeline`'s; the batching is fan-out's.
//!
//! fred routes each command of a pipeline by its own key and follows MOVED/ASK, so the grouping
//! here is for batching only: a stale routing table costs a redirection, never a lost write.

use std::collections::BTreeMap;

use feedline_redis::timeline::{KeyWrites, queue_all};
use fred::clients::{Client, Pipeline};
use fred::interfaces::ClusterInterface as _;
use fred::types::Value;
use fred::types::config::Server;
use futures::future::join_all;
use tracing::Instrument as _;

use super::{Applied, TimelineError, Timelines};

/// What a [`send_per_node`] call sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Commands sent.
    pub commands: usize,
    /// Pipelines sent.
    pub pipelines: usize,
}

impl Timelines {
    /// Every reply of `pipeline` (built on this handle's client), its commands sent in about
    /// one socket write per node (`feedline_redis::flushed_together`).
    pub(super) async fn replies(
        &self,
        pipeline: Pipeline<Client>,
    ) -> Result<Vec<Value>, fred::error::Error> {
        feedline_redis::flushed_together(&self.inner.redis, pipeline.all()).await
    }

    /// Sends writes to home timelines, per cluster node, and counts them: each write is one
    /// timeline reached. Delivery, retraction, follow and unfollow all write through here.
    pub(super) async fn write_timelines(
        &self,
        writes: Vec<KeyWrites>,
        applied: &mut Applied,
    ) -> Result<(), TimelineError> {
        applied.recipients = writes.len();
        let max = self.inner.config.max_pipeline;
        let sent = send_per_node(&self.inner.redis, writes, max).await?;
        applied.commands += sent.commands;
        applied.pipelines += sent.pipelines;
        Ok(())
    }
}

/// Sends `writes` as per-node pipelines of at most `max_pipeline` commands (a single key with
/// more goes alone in a bigger one), concurrently; Ok only when every reply is OK. On error,
/// it still waits for every pipeline, so no write of this call lands after it returns. Each
/// pipeline is a `fanout.pipeline` span (its node and commands) and a sample of
/// `feedline.fanout.pipeline.commands`. A PING goes behind them, so that each node's commands
/// leave in about one socket write (`feedline_redis::flushed_together`).
pub(crate) async fn send_per_node(
    redis: &Client,
    writes: Vec<KeyWrites>,
    max_pipeline: usize,
) -> Result<Sent, TimelineError> {
    let batches = batch(group_by_node(redis, writes), max_pipeline.max(1));
    let mut sent = Sent {
        commands: 0,
        pipelines: batches.len(),
    };
    let mut pipelines = Vec::with_capacity(batches.len());
    for (node, batch) in batches {
        let commands = batch.iter().map(|w| w.ops.len()).sum();
        sent.commands += commands;
        crate::metrics::record_pipeline_commands(commands);
        let span = tracing::info_span!(
            "fanout.pipeline",
            otel.kind = "client",
            db.system.name = "redis",
            node = tracing::field::Empty,
            commands,
        );
        if !span.is_disabled() {
            match &node {
                Some(server) => span.record("node", tracing::field::display(server)),
                None => span.record("node", "unrouted"),
            };
        }
        pipelines.push(send(redis, batch).instrument(span));
    }
    let replies = feedline_redis::flushed_together(redis, join_all(pipelines)).await;
    replies.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(sent)
}

/// Buckets by the master owning each key's slot in fred's cached routing table; without one
/// (a centralized client) everything is one bucket.
fn group_by_node(
    redis: &Client,
    writes: Vec<KeyWrites>,
) -> BTreeMap<Option<Server>, Vec<KeyWrites>> {
    let routing = redis.cached_cluster_state();
    let mut nodes: BTreeMap<Option<Server>, Vec<KeyWrites>> = BTreeMap::new();
    for write in writes {
        let node = routing.as_ref().and_then(|routing| {
            let slot = fred::util::redis_keyslot(write.key.as_bytes());
            routing.get_server(slot).cloned()
        });
        nodes.entry(node).or_default().push(write);
    }
    nodes
}

/// Splits each node's writes into batches of at most `max` commands, never splitting a key;
/// each batch with its node.
fn batch<N: Clone>(nodes: BTreeMap<N, Vec<KeyWrites>>, max: usize) -> Vec<(N, Vec<KeyWrites>)> {
    let mut batches = Vec::new();
    for (node, writes) in nodes {
        let mut current: Vec<KeyWrites> = Vec::new();
        let mut size = 0;
        for write in writes {
            if size > 0 && size + write.ops.len() > max {
                batches.push((node.clone(), std::mem::take(&mut current)));
                size = 0;
            }
            size += write.ops.len();
            current.push(write);
        }
        if !current.is_empty() {
            batches.push((node, current));
        }
    }
    batches
}

/// One pipeline: queue every op, then wait for all replies (the first error reply fails it).
async fn send(redis: &Client, writes: Vec<KeyWrites>) -> Result<(), TimelineError> {
    let pipeline = redis.pipeline();
    queue_all(&pipeline, writes).await?;
    pipeline.all::<()>().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use feedline_redis::timeline::Op;

    fn write(key: &str, ops: usize) -> KeyWrites {
        KeyWrites {
            key: key.to_owned(),
            ops: vec![Op::ZremRangeByRank(0, -1); ops],
        }
    }

    fn sizes(batches: &[(i32, Vec<KeyWrites>)]) -> Vec<(i32, usize)> {
        let size = |(n, b): &(i32, Vec<KeyWrites>)| (*n, b.iter().map(|w| w.ops.len()).sum());
        batches.iter().map(size).collect()
    }

    #[test]
    fn batches_per_node_without_splitting_a_key() {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            1,
            vec![write("a", 2), write("b", 2), write("c", 1), write("d", 2)],
        );
        nodes.insert(2, vec![write("e", 7), write("f", 1)]);
        let batches = batch(nodes, 5);
        // Node 1: 2+2+1 | 2 (d would make 7); node 2: an oversized key alone, then the rest.
        assert_eq!(sizes(&batches), vec![(1, 5), (1, 2), (2, 7), (2, 1)]);
    }
}
