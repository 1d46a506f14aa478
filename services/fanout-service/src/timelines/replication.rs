//! The optional durability step: after an event's writes, `WAIT numreplicas timeout` on every
//! master, so an event counts as applied only once its writes reached that many replicas.
//!
//! Why this is sound through fred: a clustered `Client` keeps one connection per node, shared
//! by every lane, and sends each command (pipelined or not) on the connection of the node it
//! routes to. `WAIT` routed with `Options::cluster_node` goes on that same connection and, in
//! Redis, waits for the connection's last write offset: so it covers this event's writes on that
//! node (and perhaps other lanes' later ones: a stricter wait, never a weaker one). fred marks
//! `WAIT` as a blocking command: it is not pipelined, and while it blocks, the node's connection
//! holds the commands queued behind it (`Blocking::Block`, the default); other nodes are not
//! held. A reconnection between the writes and the `WAIT` would put the `WAIT` on a connection
//! with no writes, which Redis answers at once: a reconnection seen during an event fails it.
//!
//! Every master of the routing table is waited on, not only those the event wrote: an event
//! writes several slots (`ap:`, `fl:`, `pc:`, each follower's `tl:`), on every node of a small
//! cluster, and the extra `WAIT`s run concurrently with the others.
//!
//! A master is asked for at most the replicas connected to it (read with `ROLE`, cached a few
//! seconds, read again after a shortfall): a shard with fewer connected replicas than asked for
//! (none configured, one dead, the promoted replica of a failover before its old master rejoins)
//! is waited on for those it has, and logged, instead of stalling fan-out until an operator acts.
//! A replica that is connected but behind makes the event fail (transient: the relay resends).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::{
    ClientLike as _, ClusterInterface as _, EventInterface as _, ServerInterface as _,
};
use fred::types::config::{Options, Server};
use fred::types::{ClusterHash, CustomCommand, Value};
use futures::future::join_all;

use super::{TimelineError, Timelines};

/// How long a master's connected-replica count is trusted.
const REPLICAS_TTL: Duration = Duration::from_secs(5);
/// Deadline of a `ROLE` read.
const ROLE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the durability step asks for; `replicas == 0` turns it off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicationWait {
    /// `numreplicas` of `WAIT`, per master.
    pub replicas: usize,
    /// `timeout` of `WAIT`.
    pub timeout: Duration,
}

/// Connected replicas per master, as last read.
#[derive(Default)]
pub(super) struct ReplicaCounts {
    nodes: Mutex<HashMap<Server, (usize, Instant)>>,
}

impl ReplicaCounts {
    fn fresh(&self, server: &Server) -> Option<usize> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let &(count, at) = nodes.get(server)?;
        (at.elapsed() < REPLICAS_TTL).then_some(count)
    }

    fn store(&self, server: &Server, count: usize) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.insert(server.clone(), (count, Instant::now()));
    }

    fn forget(&self, server: &Server) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.remove(server);
    }
}

impl Timelines {
    /// A mark taken before an event's writes, for [`Timelines::await_replication`].
    pub(super) fn replication_mark(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Acquire)
    }

    /// The durability step (a no-op when off): Ok once every master's connected replicas, up to
    /// the number asked for, acknowledge this client's writes on it. Err(Replication) when one
    /// acknowledged fewer within the timeout, or a connection was re-established since `mark`.
    pub(super) async fn await_replication(&self, mark: u64) -> Result<(), TimelineError> {
        let wait = self.inner.config.replication;
        if wait.replicas == 0 {
            return Ok(());
        }
        let redis = &self.inner.redis;
        let masters = redis
            .cached_cluster_state()
            .map(|routing| routing.unique_primary_nodes())
            .unwrap_or_default();
        let waits = masters.iter().map(|server| self.wait_on(server, wait));
        for result in join_all(waits).await {
            result?;
        }
        if self.replication_mark() != mark {
            return Err(TimelineError::Replication(
                "a connection was re-established during the event".into(),
            ));
        }
        Ok(())
    }

    /// `WAIT` on one master for as many of its connected replicas as asked for.
    async fn wait_on(&self, server: &Server, wait: ReplicationWait) -> Result<(), TimelineError> {
        let connected = self.connected_replicas(server).await?;
        let wanted = wait.replicas.min(connected);
        if wanted == 0 {
            return Ok(());
        }
        let timeout_ms = i64::try_from(wait.timeout.as_millis()).unwrap_or(i64::MAX);
        let options = Options {
            cluster_node: Some(server.clone()),
            // The client's command timeout counts from the send; the WAIT needs its own on top.
            timeout: Some(wait.timeout + ROLE_TIMEOUT),
            ..Options::default()
        };
        let wanted_i64 = i64::try_from(wanted).unwrap_or(i64::MAX);
        let acked: i64 = self
            .inner
            .redis
            .with_options(&options)
            .wait(wanted_i64, timeout_ms)
            .await?;
        if acked >= wanted_i64 {
            return Ok(());
        }
        // A replica may have gone: count them again on the next attempt.
        self.inner.replicas.forget(server);
        unmet_counter().add(1, &[]);
        Err(TimelineError::Replication(format!(
            "{server}: {acked} of {wanted} replicas acknowledged within {} ms",
            wait.timeout.as_millis()
        )))
    }

    /// Replicas connected to `server`, from `ROLE` (cached for [`REPLICAS_TTL`]).
    async fn connected_replicas(&self, server: &Server) -> Result<usize, TimelineError> {
        if let Some(count) = self.inner.replicas.fresh(server) {
            return Ok(count);
        }
        let options = Options {
            cluster_node: Some(server.clone()),
            timeout: Some(ROLE_TIMEOUT),
            ..Options::default()
        };
        let command = CustomCommand::new_static("ROLE", ClusterHash::Random, false);
        let role: Value = self
            .inner
            .redis
            .with_options(&options)
            .custom(command, Vec::<Value>::new())
            .await?;
        let count = connected_in_role(&role)?;
        let wanted = self.inner.config.replication.replicas;
        if count < wanted {
            tracing::warn!(
                %server,
                connected = count,
                wanted,
                "master has fewer connected replicas than FEEDLINE_FANOUT_WAIT_REPLICAS; waiting for those it has"
            );
        }
        self.inner.replicas.store(server, count);
        Ok(count)
    }
}

/// Replicas listed in a master's `ROLE` reply (`["master", offset, [[ip, port, offset], ..]]`).
fn connected_in_role(role: &Value) -> Result<usize, TimelineError> {
    let unexpected = || TimelineError::Replication(format!("unexpected ROLE reply: {role:?}"));
    let Value::Array(fields) = role else {
        return Err(unexpected());
    };
    match (
        fields.first().and_then(Value::as_str).as_deref(),
        fields.get(2),
    ) {
        (Some("master"), Some(Value::Array(replicas))) => Ok(replicas.len()),
        _ => Err(unexpected()),
    }
}

/// Counts events failed because too few replicas acknowledged in time.
fn unmet_counter() -> &'static opentelemetry::metrics::Counter<u64> {
    static COUNTER: std::sync::OnceLock<opentelemetry::metrics::Counter<u64>> =
        std::sync::OnceLock::new();
    COUNTER.get_or_init(|| {
        opentelemetry::global::meter("fanout-service")
            .u64_counter("feedline.fanout.replication_unmet")
            .with_description("WAITs that saw fewer replicas acknowledge than asked for")
            .build()
    })
}

/// Counts the client's reconnections, for [`Timelines::replication_mark`]; only when the
/// durability step is on. The listener task ends with the client.
pub(super) fn count_reconnections(
    redis: &Client,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let _listener = redis.on_reconnect(move |_server| {
        counter.fetch_add(1, Ordering::AcqRel);
        async { Ok(()) }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_replicas_of_a_master_role() {
        let replica = Value::Array(vec!["127.0.0.1".into(), "7001".into(), "10".into()]);
        let master = Value::Array(vec![
            "master".into(),
            10.into(),
            Value::Array(vec![replica]),
        ]);
        assert_eq!(connected_in_role(&master).unwrap(), 1);
        let alone = Value::Array(vec!["master".into(), 0.into(), Value::Array(vec![])]);
        assert_eq!(connected_in_role(&alone).unwrap(), 0);
        let demoted = Value::Array(vec!["slave".into(), "127.0.0.1".into(), 7000.into()]);
        assert!(!connected_in_role(&demoted).unwrap_err().is_permanent());
    }
}
