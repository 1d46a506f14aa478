//! Failing a cluster over on purpose: SIGKILL a master, wait for its replica's promotion, and
//! bring the old node back as a replica; and pause a replica first, so that the failover
//! certainly loses what the master acknowledged meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::time::Instant;

use super::{READY_TIMEOUT, RedisCluster, kill, spawn_node};
use crate::eventually;

/// One line of `CLUSTER NODES`:
/// `<id> <ip:port@bus[,host]> <flags> <master> <ping> <pong> <epoch> <link> [slots..]`.
#[derive(Debug)]
struct NodeLine {
    id: String,
    addr: SocketAddr,
    flags: Vec<String>,
    /// The id of the master this node replicates; None for a master (`-`).
    master: Option<String>,
    owns_slots: bool,
}

impl NodeLine {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Marked failed, or suspected to be (`fail?`).
    fn failing(&self) -> bool {
        self.has("fail") || self.has("fail?")
    }
}

/// The nodes of a `CLUSTER NODES` reply whose address is known.
fn parse_nodes(reply: &str) -> Vec<NodeLine> {
    reply
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let addr = fields.get(1)?.split('@').next()?.parse().ok()?;
            Some(NodeLine {
                id: (*fields.first()?).to_owned(),
                addr,
                flags: fields.get(2)?.split(',').map(str::to_owned).collect(),
                master: fields
                    .get(3)
                    .filter(|m| **m != "-")
                    .map(|m| (*m).to_owned()),
                owns_slots: fields.len() > 8,
            })
        })
        .collect()
}

/// The first replica of `master` in a `CLUSTER NODES` reply, not failing.
fn replica_in(table: &[NodeLine], master: SocketAddr) -> Option<SocketAddr> {
    let id = &table.iter().find(|n| n.addr == master)?.id;
    table
        .iter()
        .find(|n| n.has("slave") && n.master.as_ref() == Some(id) && !n.failing())
        .map(|n| n.addr)
}

/// Sends `signal` (`STOP`, `CONT`) to `pid` by shelling out to `kill` (libc is not a
/// dependency).
fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .context("running kill")?;
    ensure!(status.success(), "kill -{signal} {pid}: {status}");
    Ok(())
}

impl RedisCluster {
    /// SIGKILLs the master at `index` of [`RedisCluster::master_addrs`] (no shutdown, no last
    /// replication: a crash) and returns its address. Its replica is promoted about
    /// `cluster-node-timeout` (2 s) plus an election later: [`RedisCluster::wait_for_failover`].
    pub fn kill_master(&mut self, index: usize) -> Result<SocketAddr> {
        let addr = *self
            .masters
            .get(index)
            .with_context(|| format!("no master #{index} in {:?}", self.masters))?;
        let child = self
            .node_index(addr)?
            .and_then(|i| self.children[i].take())
            .with_context(|| format!("{addr} is not running"))?;
        kill(child);
        Ok(addr)
    }

    /// Polls until a replica of `killed` is master in its place: every surviving node reports
    /// `cluster_state:ok` with all 16384 slots served, and sees the same masters, as many as
    /// before, none failing. Then [`RedisCluster::master_addrs`] lists the new master (and no
    /// longer `killed`), which is returned. Fails after `deadline`.
    pub async fn wait_for_failover(
        &mut self,
        killed: SocketAddr,
        deadline: Duration,
    ) -> Result<SocketAddr> {
        ensure!(
            self.masters.contains(&killed),
            "{killed} is not a master of {:?}",
            self.masters
        );
        ensure!(
            self.node_index(killed)?.is_none(),
            "{killed} is still running: kill_master it first"
        );
        let before = self.masters.clone();
        let survivors = self.running_addrs();
        let masters = eventually("replica promoted", deadline, || {
            self.agreed_masters(&survivors, before.len(), killed)
        })
        .await?;
        let promoted: Vec<SocketAddr> = masters
            .iter()
            .copied()
            .filter(|m| !before.contains(m))
            .collect();
        let [new] = promoted[..] else {
            bail!("masters went from {before:?} to {masters:?}");
        };
        self.masters = masters;
        Ok(new)
    }

    /// Starts the node of `addr` (killed by [`RedisCluster::kill_master`]) again, on the same
    /// port and node directory: its nodes.conf makes it rejoin, and the master that took its
    /// slots makes it a replica. Returns once it reports `role:slave` with its replication
    /// link up and every other node sees it, not failing (at most 30 s).
    pub async fn restart_node(&mut self, addr: SocketAddr) -> Result<()> {
        let index = match self.node_index(addr)? {
            None => self
                .addrs
                .iter()
                .position(|a| *a == addr)
                .context("unknown node")?,
            Some(_) => bail!("{addr} is running"),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let (mut child, _) = spawn_node(&self.dir, addr.port(), self.tls.as_ref())?;
        if let Err(error) = self
            .wait_for_ping(&mut child, addr, &self.dir, deadline)
            .await
        {
            kill(child);
            return Err(error);
        }
        self.children[index] = Some(child);
        let others: Vec<SocketAddr> = self
            .running_addrs()
            .into_iter()
            .filter(|a| *a != addr)
            .collect();
        eventually(
            "restarted node rejoined as a replica",
            READY_TIMEOUT,
            || self.rejoined(addr, &others),
        )
        .await
    }

    /// The replica of `master` (the first one, if it has several), as `master` lists it in
    /// `CLUSTER NODES`.
    pub async fn replica_of(&self, master: SocketAddr) -> Result<SocketAddr> {
        let port = master.port().to_string();
        let table = parse_nodes(&self.cli(&["-p", &port, "CLUSTER", "NODES"]).await?);
        replica_in(&table, master).with_context(|| format!("{master} has no healthy replica"))
    }

    /// SIGSTOPs the node at `addr`: it answers nothing, reads nothing, until
    /// [`RedisCluster::resume_node`]. Paused for less than `cluster-node-timeout` (2 s), no
    /// other node marks it failing. Pausing a replica alone loses nothing: what its master
    /// writes meanwhile waits in the loopback socket's buffers (megabytes) and is read on
    /// resume, even if the master died in between; [`RedisCluster::cut_replicas`] makes the
    /// loss certain. A node still paused when the cluster stops is killed all the same.
    pub fn pause_node(&self, addr: SocketAddr) -> Result<()> {
        signal(self.pid(addr)?, "STOP")
    }

    /// SIGCONTs a node paused by [`RedisCluster::pause_node`].
    pub fn resume_node(&self, addr: SocketAddr) -> Result<()> {
        signal(self.pid(addr)?, "CONT")
    }

    /// Closes `master`'s connections to its replicas (`CLIENT KILL TYPE replica`), dropping
    /// what it has not sent them. A running replica reconnects within a second and catches up
    /// from the backlog; a paused one cannot, so everything `master` acknowledges until the
    /// replica resumes exists on `master` alone, and a SIGKILL of `master` before then loses
    /// it for certain. Returns how many connections were closed.
    pub async fn cut_replicas(&self, master: SocketAddr) -> Result<usize> {
        let port = master.port().to_string();
        let closed = self
            .cli(&["-p", &port, "CLIENT", "KILL", "TYPE", "replica"])
            .await?;
        closed
            .trim()
            .parse()
            .with_context(|| format!("CLIENT KILL answered {closed:?}"))
    }

    /// The pid of the running node at `addr`.
    fn pid(&self, addr: SocketAddr) -> Result<u32> {
        let index = self
            .node_index(addr)?
            .with_context(|| format!("{addr} is not running"))?;
        let child = self.children[index].as_ref();
        child.map(std::process::Child::id).context("no child")
    }

    /// Some(index in `addrs`) for a running node, None for a killed one; Err if unknown.
    fn node_index(&self, addr: SocketAddr) -> Result<Option<usize>> {
        let i = self
            .addrs
            .iter()
            .position(|a| *a == addr)
            .with_context(|| format!("{addr} is not a node of this cluster"))?;
        Ok(self.children[i].is_some().then_some(i))
    }

    /// The nodes not killed.
    fn running_addrs(&self) -> Vec<SocketAddr> {
        self.addrs
            .iter()
            .zip(&self.children)
            .filter(|(_, child)| child.is_some())
            .map(|(addr, _)| *addr)
            .collect()
    }

    /// The masters (sorted) once every node of `nodes` serves all slots and sees the same
    /// `count` healthy masters, `gone` not among them.
    async fn agreed_masters(
        &self,
        nodes: &[SocketAddr],
        count: usize,
        gone: SocketAddr,
    ) -> Result<Vec<SocketAddr>> {
        let mut agreed: Option<Vec<SocketAddr>> = None;
        for &node in nodes {
            let port = node.port().to_string();
            let info = self.cli(&["-p", &port, "CLUSTER", "INFO"]).await?;
            for want in ["cluster_state:ok", "cluster_slots_ok:16384"] {
                ensure!(info.lines().any(|l| l.trim() == want), "{node}: not {want}");
            }
            let table = parse_nodes(&self.cli(&["-p", &port, "CLUSTER", "NODES"]).await?);
            let mut masters: Vec<SocketAddr> = table
                .iter()
                .filter(|n| n.has("master") && n.owns_slots && !n.failing())
                .map(|n| n.addr)
                .collect();
            masters.sort();
            ensure!(
                masters.len() == count && !masters.contains(&gone),
                "{node} sees masters {masters:?}"
            );
            match &agreed {
                Some(seen) => ensure!(*seen == masters, "{node} sees {masters:?}, not {seen:?}"),
                None => agreed = Some(masters),
            }
        }
        agreed.context("no node is running")
    }

    /// Ok once `addr` is a replica with its link up and each of `others` sees it as a replica,
    /// not failing.
    async fn rejoined(&self, addr: SocketAddr, others: &[SocketAddr]) -> Result<()> {
        let port = addr.port().to_string();
        let info = self.cli(&["-p", &port, "INFO", "replication"]).await?;
        for want in ["role:slave", "master_link_status:up"] {
            ensure!(info.lines().any(|l| l.trim() == want), "{addr}: not {want}");
        }
        for &other in others {
            let table = self
                .cli(&["-p", &other.port().to_string(), "CLUSTER", "NODES"])
                .await?;
            let seen = parse_nodes(&table).into_iter().find(|n| n.addr == addr);
            ensure!(
                seen.as_ref()
                    .is_some_and(|n| n.has("slave") && !n.failing()),
                "{other} sees {addr} as {seen:?}"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_nodes() {
        let reply = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002 master,fail - 1426238316232 1426238316232 2 disconnected
292f 127.0.0.1:30003@40003 myself,master - 0 1426238318243 3 connected 10923-16383
9c2a :0@0 master,noaddr - 0 0 0 disconnected
";
        let nodes = parse_nodes(reply);
        assert_eq!(nodes.len(), 3, "the node without an address is skipped");
        assert!(nodes[0].has("slave") && !nodes[0].owns_slots);
        assert!(nodes[1].failing() && !nodes[1].owns_slots);
        assert!(nodes[2].has("master") && nodes[2].owns_slots && !nodes[2].failing());
        assert_eq!(nodes[2].addr.port(), 30003);
        assert_eq!(nodes[0].master.as_deref(), Some("e7d1"));
        assert_eq!(nodes[2].master, None);
    }

    #[test]
    fn finds_a_masters_healthy_replica() {
        let reply = "\
e7d1 127.0.0.1:30001@40001 master - 0 1426238317239 1 connected 0-5460
07c3 127.0.0.1:30004@40004 slave,fail e7d1 0 1426238317239 4 connected
08c3 127.0.0.1:30005@40005 slave e7d1 0 1426238317239 4 connected
292f 127.0.0.1:30003@40003 myself,master - 0 1426238318243 3 connected 5461-16383
";
        let table = parse_nodes(reply);
        let port = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        assert_eq!(replica_in(&table, port(30001)), Some(port(30005)));
        assert_eq!(replica_in(&table, port(30003)), None);
        assert_eq!(replica_in(&table, port(30009)), None);
    }
}
