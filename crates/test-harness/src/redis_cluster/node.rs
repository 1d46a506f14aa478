//! One node of the throwaway cluster: its ports (a node port and its bus port, both free), its
//! `redis-server` process with or without TLS, its first PING, and its SIGKILL.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::time::Instant;

use super::{NODE_TIMEOUT, RedisCluster};
use crate::tls::TestCa;

/// `start` takes node ports from 10000..15000, so their bus ports (+10000) are 20000..25000: the
/// two ranges never overlap (one cluster's bus port is never another's node port), both stay below
/// Linux's ephemeral range (32768+), where outgoing connections would grab ports between probe and
/// bind, and 15000..20000 (bus 25000..30000) is left for fixed-port clusters (`start_in`).
const PORT_LOW: u16 = 10_000;
const PORT_SPAN: u16 = 5_000;
const BUS_OFFSET: u16 = 10_000;

/// Next port offset to probe; starts at a random point so parallel test binaries rarely collide.
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// How nodes serve TLS and how redis-cli reaches them.
#[derive(Clone, Debug)]
pub(super) struct TlsFlags {
    pub(super) server: Vec<String>,
    pub(super) cli: Vec<String>,
}

impl TlsFlags {
    /// Every node serves TLS only (client port and cluster bus), with `ca`'s certificate for
    /// 127.0.0.1; clients are not asked for certificates (ElastiCache does not either).
    pub(super) fn new(ca: &TestCa) -> TlsFlags {
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

/// SIGKILLs and reaps one node; errors mean it is already gone, which is what we want.
pub(super) fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts one cluster node in `dir/node-<port>` (its nodes.conf and redis.log live there).
/// With `tls`, the node serves TLS only on `port`.
pub(super) fn spawn_node(
    dir: &Path,
    port: u16,
    tls: Option<&TlsFlags>,
) -> Result<(Child, SocketAddr)> {
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
    pub(super) async fn wait_for_ping(
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

/// Probes ports from a process-wide cursor until both the port and its bus port are free.
pub(super) fn next_free_port() -> Result<u16> {
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
pub(super) fn port_pair_free(port: u16) -> bool {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    port.checked_add(BUS_OFFSET)
        .is_some_and(|bus| free(port) && free(bus))
}
