//! A service binary as a child process for tests: a command that sees only the environment it
//! is given, and a running service waited on until SERVING, then stopped with SIGTERM or killed.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::{ephemeral_listener, wait_for_serving};

/// How long a started service may take to report SERVING.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// The services' admin (`/metrics`) address setting.
const METRICS_ADDR: &str = "FEEDLINE_METRICS_ADDR";

/// `binary ARGS` with only `env` for an environment, so nothing leaks in from the test's own,
/// and no stdin.
pub fn isolated_command<I, K, V>(binary: &str, env: I, args: &[&str]) -> Command
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut command = Command::new(binary);
    command
        .env_clear()
        // Each binary would bind its fixed default admin port: two copies would clash.
        .env(METRICS_ADDR, "off")
        .envs(env)
        .args(args)
        .stdin(Stdio::null());
    command
}

/// A running service process; killed when dropped, so a failing test leaves nothing behind.
pub struct ServiceProcess {
    child: Child,
    /// Where it serves gRPC.
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts `command` (stdout discarded, stderr the test's own) and waits until the service
    /// at `addr` is SERVING, as a client would see it (60 s at most).
    pub async fn spawn(command: &mut Command, addr: SocketAddr) -> Result<Self> {
        // `/metrics` only where the test asks for it: the fixed default admin port would clash
        // between two copies of one service (and with a stack the developer runs).
        if !command
            .as_std()
            .get_envs()
            .any(|(key, _)| key == METRICS_ADDR)
        {
            command.env(METRICS_ADDR, "off");
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {:?}", command.as_std().get_program()))?;
        wait_for_serving(addr, "", READY_DEADLINE).await?;
        Ok(Self { child, addr })
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(mut self) -> Result<()> {
        self.child.kill().await.context("SIGKILL")
    }

    /// SIGTERM, then waits at most `within` for the exit.
    pub async fn terminate(mut self, within: Duration) -> Result<ExitStatus> {
        let pid = self.child.id().context("already exited")?.to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        let sent = sent.await.context("kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {pid}: {sent}");
        }
        tokio::time::timeout(within, self.child.wait())
            .await
            .with_context(|| format!("not exited within {within:?} of SIGTERM"))?
            .context("waiting for the exit")
    }

    /// Resident memory in KiB (VmRSS, from /proc).
    pub fn rss_kib(&self) -> Result<u64> {
        let pid = self.child.id().context("already exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc status")
    }
}

/// A free port on 127.0.0.1 for a process to listen on (bound, then released).
pub async fn free_addr() -> Result<SocketAddr> {
    let listener = ephemeral_listener().await?;
    Ok(listener.local_addr()?)
}
