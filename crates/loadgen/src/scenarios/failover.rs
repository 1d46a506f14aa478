//! `fanout --kill-master-after`: one Redis master crashed in the middle of the load, and the
//! recovery of fan-out lag after it (computed in `timelines::recovery`).
//!
//! The master killed is the one holding the most of the run's follower timelines (fewest
//! ties: the lowest port), so most sampled posts wait for its slots. It gets
//! `SHUTDOWN NOW NOSAVE FORCE` on a direct (non-cluster) connection: a crash as the cluster
//! sees it, no save, no replica catch-up (Redis >= 7 that allows SHUTDOWN). Managed services
//! (ElastiCache, MemoryDB) refuse SHUTDOWN: there one starts their failover test API
//! (ElastiCache's TestFailover) at the same point of the load instead. The run is refused
//! unless every master has a replica to take its slots over.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use feedline_redis::keys;
use fred::interfaces::ClusterInterface as _;
use fred::prelude::{Builder, Client, ClientLike as _, Config, ServerConfig};
use fred::types::{ClusterHash, CustomCommand, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::report::FailoverFigures;
use crate::social::Social;
use crate::timelines::lag::LagOutcome;
use crate::timelines::recovery::{self, LagSample};

/// How long the killed node may take to stop accepting connections.
const GONE_LIMIT: Duration = Duration::from_secs(5);
const GONE_POLL: Duration = Duration::from_millis(20);
const DIRECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the cluster may take to show a replica for every master.
const REPLICAS_LIMIT: Duration = Duration::from_secs(10);
const REPLICAS_POLL: Duration = Duration::from_millis(200);

/// Fails, saying how to get one, unless every master owning slots has a live replica. Asked
/// again for a few seconds: a cluster just created may not have gossiped every replica yet.
pub async fn check_replicas(redis: &Client) -> Result<()> {
    let deadline = Instant::now() + REPLICAS_LIMIT;
    loop {
        let nodes: String = redis
            .cluster_nodes()
            .await
            .context("--kill-master-after: CLUSTER NODES")?;
        let alone = masters_without_replica(&nodes);
        if alone.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "--kill-master-after: no replica follows master {}, so killing it would lose \
                 its slots for good; start the stack with replicas (`cargo xtask up \
                 --redis-replicas 1`)",
                alone.join(", ")
            );
        }
        tokio::time::sleep(REPLICAS_POLL).await;
    }
}

/// The `host:port` of each master owning slots that no replica (not failed) follows, from
/// the text of CLUSTER NODES.
pub fn masters_without_replica(nodes: &str) -> Vec<String> {
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .map(|line| line.split_whitespace().collect())
        .filter(|fields: &Vec<&str>| fields.len() >= 8)
        .collect();
    let failed = |flags: &str| flags.split(',').any(|f| f == "fail" || f == "fail?");
    let followed: HashSet<&str> = lines
        .iter()
        .filter(|f| f[2].split(',').any(|flag| flag == "slave") && !failed(f[2]))
        .map(|f| f[3])
        .collect();
    lines
        .iter()
        .filter(|f| f[2].split(',').any(|flag| flag == "master") && !failed(f[2]))
        // Fields 9 on are the slot ranges it owns.
        .filter(|f| f.len() > 8 && !followed.contains(f[0]))
        .map(|f| f[1].split('@').next().unwrap_or(f[1]).to_owned())
        .collect()
}

/// A kill armed for a point of the load.
pub struct Failover {
    node: (String, u16),
    timelines: u64,
    of_timelines: u64,
    /// Resolves to the instant of the kill, or None when the load was stopped first. Aborted
    /// by `finish` if still waiting when the load is over.
    kill: JoinHandle<Result<Option<Instant>>>,
}

impl Failover {
    /// Picks the master holding the most follower timelines of `social` and kills it `after`
    /// from now, unless `stop` is cancelled first.
    pub fn arm(
        redis: &Client,
        social: &Social,
        after: Duration,
        stop: CancellationToken,
    ) -> Result<Self> {
        let routing = redis
            .cached_cluster_state()
            .ok_or_else(|| anyhow!("--kill-master-after: no cluster routing table yet"))?;
        let mut per_master: BTreeMap<(String, u16), u64> = BTreeMap::new();
        let mut of_timelines = 0;
        for (user, followees) in social.followees.iter().enumerate() {
            if followees.is_empty() {
                continue;
            }
            of_timelines += 1;
            let key = keys::timeline(social.ids[user]);
            let slot = fred::util::redis_keyslot(key.as_bytes());
            if let Some(server) = routing.get_server(slot) {
                *per_master
                    .entry((server.host.to_string(), server.port))
                    .or_default() += 1;
            }
        }
        // The most timelines; among equals the first in (host, port) order.
        let (node, timelines) = per_master
            .into_iter()
            .fold(
                None,
                |best: Option<((String, u16), u64)>, (node, n)| match best {
                    Some((_, most)) if most >= n => best,
                    _ => Some((node, n)),
                },
            )
            .ok_or_else(|| anyhow!("--kill-master-after: the run has no follower timeline"))?;
        eprintln!(
            "will kill redis master {}:{} ({timelines} of {of_timelines} follower timelines) \
             {} s into the load",
            node.0,
            node.1,
            after.as_secs()
        );
        let target = node.clone();
        let kill = tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(after) => shutdown(&target.0, target.1).await.map(Some),
                () = stop.cancelled() => Ok(None),
            }
        });
        Ok(Self {
            node,
            timelines,
            of_timelines,
            kill,
        })
    }

    /// Once the load is over: the kill, if it happened (an error if it failed).
    pub async fn finish(self) -> Result<Killed> {
        if !self.kill.is_finished() {
            self.kill.abort();
        }
        let at = match self.kill.await {
            Ok(killed) => killed?,
            Err(error) if error.is_cancelled() => None,
            Err(error) => bail!("the kill task failed: {error}"),
        };
        Ok(Killed {
            node: format!("{}:{}", self.node.0, self.node.1),
            timelines: self.timelines,
            of_timelines: self.of_timelines,
            at,
        })
    }
}

/// The master killed, and when.
pub struct Killed {
    node: String,
    timelines: u64,
    of_timelines: u64,
    at: Option<Instant>,
}

impl Killed {
    /// The figures of the report, from the lag samples of a load started at `started`.
    pub fn figures(self, started: Instant, lag: &LagOutcome) -> FailoverFigures {
        let since = |at: Instant| at.saturating_duration_since(started).as_secs_f64();
        let kill_s = self.at.map(since);
        let recovery = kill_s.map_or_else(Default::default, |kill_s| {
            let samples: Vec<LagSample> = lag
                .points
                .iter()
                .map(|&(acked, lag)| (since(acked), Some(lag.as_secs_f64() * 1000.0)))
                .chain(lag.unseen_points.iter().map(|&acked| (since(acked), None)))
                .collect();
            recovery::recovery(&samples, kill_s, recovery::TARGET)
        });
        FailoverFigures {
            node: self.node,
            timelines: self.timelines,
            of_timelines: self.of_timelines,
            kill_s,
            recovery,
        }
    }
}

/// `SHUTDOWN NOW NOSAVE FORCE` to `host:port` on a connection of its own; returns when it
/// was sent, once the node no longer accepts connections.
async fn shutdown(host: &str, port: u16) -> Result<Instant> {
    let config = Config {
        server: ServerConfig::new_centralized(host, port),
        ..Config::default()
    };
    let direct = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = DIRECT_TIMEOUT;
            c.internal_command_timeout = DIRECT_TIMEOUT;
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| p.default_command_timeout = DIRECT_TIMEOUT)
        .build()
        .context("--kill-master-after: a client of the master")?;
    tokio::time::timeout(DIRECT_TIMEOUT, direct.init())
        .await
        .map_err(|_| anyhow!("cannot connect to {host}:{port} within 2 s"))?
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    let at = Instant::now();
    let command = CustomCommand::new_static("SHUTDOWN", ClusterHash::Random, false);
    // A SHUTDOWN that works answers nothing: the connection closes under it.
    let reply = direct
        .custom::<Value, _>(command, vec!["NOW", "NOSAVE", "FORCE"])
        .await;
    let _ = direct.quit().await;
    let deadline = at + GONE_LIMIT;
    while tokio::net::TcpStream::connect((host, port)).await.is_ok() {
        if Instant::now() >= deadline {
            let reply = match reply {
                Ok(value) => format!("{value:?}"),
                Err(error) => error.to_string(),
            };
            bail!(
                "{host}:{port} still accepts connections {} s after SHUTDOWN NOW NOSAVE FORCE \
                 ({reply}); managed services refuse SHUTDOWN: use their failover test API",
                GONE_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(GONE_POLL).await;
    }
    eprintln!("killed redis master {host}:{port}");
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE_PLUS_THREE: &str = "\
a1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:30002@40002 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:30003@40003 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:30004@40004 slave a3 0 0 3 connected
b2 127.0.0.1:30005@40005 slave a1 0 0 1 connected
b3 127.0.0.1:30006@40006 slave a2 0 0 2 connected
";

    #[test]
    fn every_master_with_a_replica_passes() {
        assert!(masters_without_replica(THREE_PLUS_THREE).is_empty());
    }

    #[test]
    fn masters_alone_are_named() {
        let three = "\
a1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:30002@40002 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:30003@40003 master - 0 0 3 connected 10923-16383
";
        assert_eq!(
            masters_without_replica(three),
            ["127.0.0.1:30001", "127.0.0.1:30002", "127.0.0.1:30003"]
        );
        // A failed replica does not count; a master without slots needs none.
        let failed = THREE_PLUS_THREE.replace("slave a2", "slave,fail a2")
            + "c1 127.0.0.1:30007@40007 master - 0 0 4 connected\n";
        assert_eq!(masters_without_replica(&failed), ["127.0.0.1:30002"]);
    }
}
