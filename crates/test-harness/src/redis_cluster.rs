//! A throwaway Redis Cluster made of real `redis-server` processes, for tests and `cargo xtask up`.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tempfile::TempDir;
use tokio::time::Instant;

use crate::tls::TestCa;

/// `start` takes node ports from 10000..15000, so their bus ports (+10000) are 20000..25000: the
/// two ranges never overlap (one cluster's bus port is never another's node port), both stay below
/// Linux's ephemeral range (32768+), where outgoing connections would grab ports between probe and
/// bind, and 15000..20000 (bus 25000..30000) is left for fixed-port clusters (`start_in`).
const PORT_LOW: u16 = 10_000;
const PORT_SPAN: u16 = 5_000;
const BUS_OFFSET: u16 = 10_000;
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `start` picks a new port when a node dies at startup (another process won the port).
const SPAWN_ATTEMPTS: usize = 5;
/// `cluster-node-timeout` of every node: how long a master may be unreachable before the others
/// mark it failed and its replica takes over. Redis's default is 15 s; 2 s makes a failover in a
/// test take about 3 s while a node stalled for a second (a busy CI machine) is still not failed.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_millis(2_000);

mod failover;

/// Next port offset to probe; starts at a random point so parallel test binaries rarely collide.
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

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

/// How nodes serve TLS and how redis-cli reaches them.
#[derive(Clone, Debug)]
struct TlsFlags {
    server: Vec<String>,
    cli: Vec<String>,
}

impl TlsFlags {
    /// Every node serves TLS only (client port and cluster bus), with `ca`'s certificate for
    /// 127.0.0.1; clients are not asked for certificates (ElastiCache does not either).
    fn new(ca: &TestCa) -> TlsFlags {
        let path = |p: std::path::PathBuf| p.display().to_string();
        let (cert, key, ca_file) = (
            path(ca.cert_file()),
            path(ca.key_file()),
            path(ca.ca_file()),
        );
        TlsFlags {
            server: [
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca_file,
                "--tls-cluster",
                "yes",
                "--tls-replication",
                "yes",
                "--tls-auth-clients",
                "no",
            ]
            .map(str::to_owned)
            .to_vec(),
            cli: ["--tls", "--cacert", &ca_file].map(str::to_owned).to_vec(),
        }
    }
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
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.check_ready(masters).await {
                Ok(found) => {
                    self.masters = found;
                    return Ok(());
                }
                Err(error) if Instant::now() >= deadline => {
                    return Err(error.context("cluster not ready within 30 s"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
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

/// SIGKILLs and reaps one node; errors mean it is already gone, which is what we want.
fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts one cluster node in `dir/node-<port>` (its nodes.conf and redis.log live there).
/// With `tls`, the node serves TLS only on `port`.
fn spawn_node(dir: &Path, port: u16, tls: Option<&TlsFlags>) -> Result<(Child, SocketAddr)> {
    let node_dir = dir.join(format!("node-{port}"));
    std::fs::create_dir_all(&node_dir)
        .with_context(|| format!("creating {}", node_dir.display()))?;
    let port = port.to_string();
    let ports: Vec<&str> = match tls {
        None => vec!["--port", &port],
        Some(tls) => ["--port", "0", "--tls-port", &port]
            .into_iter()
            .chain(tls.server.iter().map(String::as_str))
            .collect(),
    };
    let child = Command::new("redis-server")
        .args(ports)
        .args(["--bind", "127.0.0.1"])
        .args([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ])
        .args(["--save", "", "--appendonly", "no", "--logfile", "redis.log"])
        .args([
            "--cluster-node-timeout",
            &NODE_TIMEOUT.as_millis().to_string(),
        ])
        // A replica fails over however long it was cut off from its master: in a test, the
        // newest data it has is the data there is.
        .args(["--cluster-replica-validity-factor", "0"])
        // A replica's first sync starts at once, not after Redis's 5 s wait for more replicas.
        .args(["--repl-diskless-sync-delay", "0"])
        // Relative paths (nodes.conf, redis.log, the default `dir ./`) resolve against this.
        .current_dir(&node_dir)
        // Its own process group: a Ctrl-C at a terminal (cargo xtask up) must reach only our
        // process, which stops the services first and the cluster last.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawning redis-server (is it on PATH?)")?;
    let port = port.parse().context("port")?;
    Ok((child, SocketAddr::from((Ipv4Addr::LOCALHOST, port))))
}

impl RedisCluster {
    /// Polls PING until the node answers; fails early with its log if the process exits.
    async fn wait_for_ping(
        &self,
        child: &mut Child,
        addr: SocketAddr,
        dir: &Path,
        deadline: Instant,
    ) -> Result<()> {
        loop {
            if let Some(status) = child.try_wait()? {
                let log =
                    std::fs::read_to_string(dir.join(format!("node-{}/redis.log", addr.port())))
                        .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                bail!("redis-server on {addr} exited ({status}): {:?}", tail);
            }
            match self.cli(&["-p", &addr.port().to_string(), "PING"]).await {
                Ok(pong) if pong.trim() == "PONG" => return Ok(()),
                answer if Instant::now() >= deadline => {
                    bail!("redis-server on {addr} did not answer PING: {answer:?}");
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
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

/// Probes ports from a process-wide cursor until both the port and its bus port are free.
fn next_free_port() -> Result<u16> {
    let _ = NEXT_PORT.compare_exchange(
        0,
        rand::random_range(1..PORT_SPAN),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..PORT_SPAN {
        let port = PORT_LOW + NEXT_PORT.fetch_add(1, Ordering::Relaxed) % PORT_SPAN;
        if port_pair_free(port) {
            return Ok(port);
        }
    }
    bail!("no free port pair in {PORT_LOW}..{}", PORT_LOW + PORT_SPAN)
}

/// True when both `port` and `port + 10000` can be bound on loopback right now.
fn port_pair_free(port: u16) -> bool {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    port.checked_add(BUS_OFFSET)
        .is_some_and(|bus| free(port) && free(bus))
}
