//! The topology watcher: notices when the Redis Cluster's slot owners change (a failover, a node
//! replaced, slots moved) and asks a relay to replay its retained outbox window, which repairs
//! whatever acknowledged writes the old primary took with it (replication is asynchronous).
//!
//! It reads fred's routing table (refreshed by fred on MOVED and on reconnects) twice a second
//! and whenever fred reports a cluster change; a change is acted on once the new layout has
//! held for a few readings and covers every slot, so a failover in several steps asks once,
//! after the new primary serves.

use std::sync::Arc;
use std::time::Duration;

use feedline_proto::fanout::v1::ReplayRequest;
use fred::prelude::{ClusterInterface as _, EventInterface as _};
use fred::types::cluster::ClusterRouting;

use crate::api::AppState;
use crate::api::replay::ReplayBroker;

/// How often the routing table is read.
const EVERY: Duration = Duration::from_millis(500);
/// Readings a new layout must hold before a replay is asked.
const STABLE_READINGS: u32 = 3;
/// Hash slots in a Redis Cluster.
const SLOTS: u32 = 16_384;

/// One slot range and the node serving it (address and node id).
pub type Shard = (u16, u16, String, String);

/// The layout of `routing`, sorted.
pub fn layout(routing: &ClusterRouting) -> Vec<Shard> {
    let mut shards: Vec<Shard> = routing
        .slots()
        .iter()
        .map(|s| (s.start, s.end, s.primary.to_string(), s.id.to_string()))
        .collect();
    shards.sort();
    shards
}

/// Decides, reading after reading, when the layout changed for good. No I/O.
#[derive(Debug, Default)]
pub struct Detector {
    /// The layout replays were last settled against (the first complete one seen).
    settled: Option<Vec<Shard>>,
    /// A different layout seen lately, and for how many readings in a row.
    candidate: Option<(Vec<Shard>, u32)>,
}

impl Detector {
    /// Takes one reading; true when a replay should be asked now.
    pub fn observe(&mut self, layout: Vec<Shard>) -> bool {
        let covered: u32 = layout
            .iter()
            .map(|(start, end, _, _)| u32::from(*end) + 1 - u32::from(*start))
            .sum();
        if covered != SLOTS {
            return false; // mid-change: some slots have no primary in this view
        }
        let Some(settled) = &self.settled else {
            self.settled = Some(layout);
            return false;
        };
        if *settled == layout {
            self.candidate = None;
            return false;
        }
        let readings = match self.candidate.take() {
            Some((candidate, n)) if candidate == layout => n + 1,
            _ => 1,
        };
        if readings >= STABLE_READINGS {
            self.settled = Some(layout);
            return true;
        }
        self.candidate = Some((layout, readings));
        false
    }
}

/// Watches `client`'s view of the cluster until `shutdown`, posting a replay request on each
/// settled change when `replay` (`FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE`) is on, and only
/// warning of it when off.
pub async fn watch(client: fred::prelude::Client, state: Arc<AppState>, replay: bool) {
    let mut changes = client.cluster_change_rx();
    let mut detector = Detector::default();
    loop {
        if let Some(routing) = client.cached_cluster_state()
            && detector.observe(layout(&routing))
        {
            settled_change(&state.replays, replay, routing.unique_primary_nodes().len());
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
            _ = changes.recv() => {}
        }
    }
}

/// What a settled change does: a replay request for the next relay, or with `replay` off only
/// a warning, so that the operator knows a repair is theirs to ask for.
fn settled_change(replays: &ReplayBroker, replay: bool, primaries: usize) {
    if !replay {
        tracing::warn!(
            primaries,
            "redis cluster topology changed; not replaying: \
             FEEDLINE_FANOUT_REPLAY_ON_TOPOLOGY_CHANGE=false; call ReplayOutbox"
        );
        return;
    }
    tracing::warn!(
        primaries,
        "redis cluster topology changed; asking for a replay of the outbox window"
    );
    replays.post(ReplayRequest {
        since: None,
        reason: "topology change".into(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(owner_of_first: &str) -> Vec<Shard> {
        vec![
            (
                0,
                5460,
                owner_of_first.into(),
                format!("id-{owner_of_first}"),
            ),
            (5461, 10922, "b:2".into(), "id-b".into()),
            (10923, 16383, "c:3".into(), "id-c".into()),
        ]
    }

    #[test]
    fn a_failover_asks_once_after_the_new_layout_holds() {
        let mut detector = Detector::default();
        assert!(
            !detector.observe(shards("a:1")),
            "the first layout is the baseline"
        );
        assert!(!detector.observe(shards("a:1")));
        let mut gap = shards("a:1");
        gap.remove(0);
        assert!(!detector.observe(gap), "slots without a primary: wait");
        assert!(!detector.observe(shards("d:4")));
        assert!(!detector.observe(shards("d:4")));
        assert!(detector.observe(shards("d:4")), "held for three readings");
        assert!(!detector.observe(shards("d:4")), "asked once");
    }

    #[test]
    fn a_flap_back_asks_nothing() {
        let mut detector = Detector::default();
        detector.observe(shards("a:1"));
        assert!(!detector.observe(shards("d:4")));
        assert!(!detector.observe(shards("a:1")));
        assert!(!detector.observe(shards("d:4")), "the count starts again");
        assert!(!detector.observe(shards("d:4")));
        assert!(detector.observe(shards("d:4")));
    }

    #[test]
    fn a_change_asks_for_a_replay_only_when_replays_are_on() {
        let replays = ReplayBroker::default();
        settled_change(&replays, false, 3);
        assert!(!replays.is_pending(), "off: only a warning");
        settled_change(&replays, true, 3);
        assert!(replays.is_pending(), "on: a request waits for a relay");
    }
}
