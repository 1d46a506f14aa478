//! A throwaway Redis Cluster made of real `redis-server` processes, for tests and `cargo xtask up`.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tempfile::TempDir;
use tokio::time::Instant;

use crate::eventually;
use crate::tls::TestCa;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `start` picks a new port when a node dies at startup (another process won the port).
const SPAWN_ATTEMPTS: usize = 5;
/// `cluster-node-timeout` of every node: how long a master may be unreachable before the others
/// mark it failed and its replica takes over. Redis's default is 15 s; 2 s makes a failover in a
/// test take about 3 s while a node stalled for a second (a busy CI machine) is still not failed.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_millis(2_000);

mod failover;
mod node;

use node::{TlsFlags, kill, next_free_port, port_pair_free, spawn_node};

/// A running Redis Cluster; dropping it SIGKILLs every node.
pub struct RedisCluster {
    addrs: Vec<SocketAddr>,
    masters: Vec<SocketAddr>,
    /// One per node, in `addrs` order (None while a node is killed); `stop` (and so Drop)
    /// kills and reaps them all.
    children: Vec<Option<Child>>,
    /// Where the node directories are (`node-<port>`): a restarted node finds its nodes.conf.
    dir: PathBuf,
    /// The node directories of `start`, deleted on drop once the nodes are dead (fields drop
    /// after `Drop::drop`). None for `start_in`: that directory is the caller's and keeps the logs.
    _temp: Option<TempDir>,
    /// With TLS (`start_tls`): the redis-cli flags that reach the nodes (`--tls --cacert ..`),
    /// and the server flags each node starts with.
    tls: Option<TlsFlags>,
}

impl RedisCluster {
    /// Starts `masters` masters (>= 3) with `replicas` replicas each on free loopback ports, in a
    /// temp dir, and returns once every node reports `cluster_state:ok` with all slots assigned.
    pub async fn start(masters: usize, replicas: usize) -> Result<RedisCluster> {
        let temp = tempfile::Builder::new()
            .prefix("feedline-redis-")
            .tempdir()?;
        let dir = temp.path().to_owned();
        let mut cluster = RedisCluster::empty(&dir, Some(temp), None);
        let next = |_| next_free_port();
        cluster
            .launch(&dir, masters, replicas, next, SPAWN_ATTEMPTS)
            .await?;
        Ok(cluster)
    }

    /// Like `start`, but every node serves TLS only, with a certificate `ca` signed for
    /// 127.0.0.1; [`RedisCluster::url`] is then `rediss-cluster://`.
    pub async fn start_tls(masters: usize, replicas: usize, ca: &TestCa) -> Result<RedisCluster> {
        let temp = tempfile::Builder::new()
            .prefix("feedline-redis-tls-")
            .tempdir()?;
        let dir = temp.path().to_owned();
        let mut cluster = RedisCluster::empty(&dir, Some(temp), Some(TlsFlags::new(ca)));
        let next = |_| next_free_port();
        cluster
            .launch(&dir, masters, replicas, next, SPAWN_ATTEMPTS)
            .await?;
        Ok(cluster)
    }

    /// Like `start`, but on ports `first_port..first_port + n` in `dir`; node directories left by
    /// an earlier run are wiped first, so the cluster is always fresh.
    pub async fn start_in(
        dir: &Path,
        first_port: u16,
        masters: usize,
        replicas: usize,
    ) -> Result<RedisCluster> {
        let port = |i: usize| -> Result<u16> {
            let port = first_port.checked_add(u16::try_from(i)?);
            port.context("port out of range")
        };
        for i in 0..masters * (1 + replicas) {
            let port = port(i)?;
            // Checked first: a node that fails to bind could take an old node's PONG as its own.
            ensure!(
                port_pair_free(port),
                "port {port} or {port}+10000 is in use"
            );
            // A node that finds an old nodes.conf rejoins its old cluster instead of a new one.
            let node_dir = dir.join(format!("node-{port}"));
            if node_dir.exists() {
                std::fs::remove_dir_all(&node_dir)
                    .with_context(|| format!("wiping {}", node_dir.display()))?;
            }
        }
        let mut cluster = RedisCluster::empty(dir, None, None);
        cluster.launch(dir, masters, replicas, port, 1).await?;
        Ok(cluster)
    }

    /// The nodes that own slots, sorted by port (after a failover, once
    /// [`RedisCluster::wait_for_failover`] has seen it, the promoted replica instead of the killed
    /// master).
    pub fn master_addrs(&self) -> Vec<SocketAddr> {
        self.masters.clone()
    }

    /// Every node, masters and replicas, in start order.
    pub fn all_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// fred's cluster URL listing every node as a seed, e.g.
    /// `redis-cluster://127.0.0.1:P1?node=127.0.0.1:P2&node=127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let first = self.addrs.first().map(ToString::to_string);
        let seeds: Vec<String> = self
            .addrs
            .iter()
            .skip(1)
            .map(|a| format!("node={a}"))
            .collect();
        let scheme = if self.tls.is_some() {
            "rediss-cluster"
        } else {
            "redis-cluster"
        };
        format!(
            "{scheme}://{}?{}",
            first.unwrap_or_default(),
            seeds.join("&")
        )
    }

    /// SIGKILLs every node and waits for it to exit, so its ports are closed on return.
    pub fn stop(&mut self) {
        self.children.drain(..).flatten().for_each(kill);
    }

    fn empty(dir: &Path, temp: Option<TempDir>, tls: Option<TlsFlags>) -> RedisCluster {
        RedisCluster {
            addrs: Vec::new(),
            masters: Vec::new(),
            children: Vec::new(),
            dir: dir.to_owned(),
            _temp: temp,
            tls,
        }
    }

    /// redis-cli with this cluster's TLS flags, if any, before `args`.
    async fn cli<S: AsRef<OsStr> + Debug>(&self, args: &[S]) -> Result<String> {
        let mut all: Vec<&OsStr> = Vec::new();
        if let Some(tls) = &self.tls {
            all.extend(tls.cli.iter().map(OsStr::new));
        }
        all.extend(args.iter().map(AsRef::as_ref));
        redis_cli(&all).await
    }

    /// Spawns every node (each on `port(i)`, with up to `attempts` tries when a node dies at
    /// startup) and forms the cluster.
    async fn launch(
        &mut self,
        dir: &Path,
        masters: usize,
        replicas: usize,
        port: impl Fn(usize) -> Result<u16>,
        attempts: usize,
    ) -> Result<()> {
        ensure!(
            masters >= 3,
            "a Redis Cluster needs at least 3 masters, got {masters}"
        );
        let deadline = Instant::now() + READY_TIMEOUT;
        for i in 0..masters * (1 + replicas) {
            for attempt in 1..=attempts {
                let (mut child, addr) = spawn_node(dir, port(i)?, self.tls.as_ref())?;
                match self.wait_for_ping(&mut child, addr, dir, deadline).await {
                    Ok(()) => {
                        self.children.push(Some(child));
                        self.addrs.push(addr);
                        break;
                    }
                    Err(error) => {
                        kill(child);
                        if attempt == attempts {
                            return Err(error);
                        }
                    }
                }
            }
        }
        self.create(masters, replicas).await
    }

    async fn create(&mut self, masters: usize, replicas: usize) -> Result<()> {
        let mut args: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        args.splice(0..0, ["--cluster".into(), "create".into()]);
        args.extend([
            "--cluster-replicas".into(),
            replicas.to_string(),
            "--cluster-yes".into(),
        ]);
        self.cli(&args).await?;
        let ready = || self.check_ready(masters);
        self.masters = eventually("the cluster ready", READY_TIMEOUT, ready).await?;
        Ok(())
    }

    /// Ok with the master addresses once every node agrees the cluster is whole: state ok, all
    /// slots assigned, every node known, `masters` of them owning slots, and every replica's
    /// replication link up.
    async fn check_ready(&self, masters: usize) -> Result<Vec<SocketAddr>> {
        let n = self.addrs.len();
        let want = format!(
            "cluster_state:ok cluster_slots_assigned:16384 \
             cluster_known_nodes:{n} cluster_size:{masters}"
        );
        for &addr in &self.addrs {
            let info = self
                .cli(&["-p", &addr.port().to_string(), "CLUSTER", "INFO"])
                .await?;
            for line in want.split(' ') {
                ensure!(info.lines().any(|l| l.trim() == line), "{addr}: not {line}");
            }
        }
        let first = *self.addrs.first().context("cluster has no nodes")?;
        let nodes = self
            .cli(&["-p", &first.port().to_string(), "CLUSTER", "NODES"])
            .await?;
        // `<id> <ip:port@bus[,host]> <flags> <master> <ping> <pong> <epoch> <link> [slots..]`
        let mut found: Vec<SocketAddr> = nodes
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|fields| fields.len() > 8 && fields[2].split(',').any(|f| f == "master"))
            .filter_map(|fields| fields[1].split('@').next()?.parse().ok())
            .collect();
        found.sort();
        ensure!(found.len() == masters, "{first} sees masters {found:?}");
        // A replica counts once it has its master's data: a WAIT right away finds it.
        for addr in self.addrs.iter().filter(|a| !found.contains(a)) {
            let info = self
                .cli(&["-p", &addr.port().to_string(), "INFO", "replication"])
                .await?;
            let up = info.lines().any(|l| l.trim() == "master_link_status:up");
            ensure!(up, "{addr}: replication link not up");
        }
        Ok(found)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `redis-server` is on PATH.
pub fn redis_server_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs redis-cli with `args` and returns its stdout; fails when it exits non-zero.
async fn redis_cli<S: AsRef<OsStr> + Debug>(args: &[S]) -> Result<String> {
    let output = tokio::process::Command::new("redis-cli")
        .args(args)
        // Its cluster manager colours output even into a pipe when TERM looks like xterm.
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(READY_TIMEOUT, output)
        .await
        .context("redis-cli hung")??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        output.status.success(),
        "redis-cli {args:?} failed: {stdout}{stderr}"
    );
    Ok(stdout)
}
