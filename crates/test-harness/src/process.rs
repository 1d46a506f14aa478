//! The one launcher of service binaries as child processes, for tests and `cargo xtask up`: a
//! command that sees only the environment it is given, a running service waited on until
//! SERVING (or until it exits), stopped with SIGTERM or killed.

use std::ffi::OsStr;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::process::{Child, Command};

use crate::wait_for_serving;

/// How long a service started by [`ServiceProcess::spawn`] may take to report SERVING.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// The services' admin (`/metrics`) address setting.
const METRICS_ADDR: &str = "FEEDLINE_METRICS_ADDR";

/// `binary ARGS` with only `env` for an environment, so nothing leaks in from the test's own,
/// and no stdin.
pub fn isolated_command<I, K, V>(binary: impl AsRef<OsStr>, env: I, args: &[&str]) -> Command
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

/// Where a started service's stdout and stderr go.
#[derive(Clone, Debug)]
pub enum Output {
    /// stdout discarded, stderr the caller's own.
    Inherit,
    /// Both into this file, created or truncated.
    File(PathBuf),
}

/// A running service process. Spawned with `kill_on_drop`: dropping it SIGKILLs the service,
/// so a failing test (or an `up` that errors) leaves nothing behind.
pub struct ServiceProcess {
    child: Child,
    pid: u32,
    /// Where it serves gRPC.
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts `command` (stdout discarded, stderr the test's own, `/metrics` off unless the
    /// command sets its address) and waits until the service at `addr` is SERVING, as a client
    /// would see it (60 s at most).
    pub async fn spawn(command: &mut Command, addr: SocketAddr) -> Result<Self> {
        Self::spawn_to(command, addr, Output::Inherit).await
    }

    /// [`ServiceProcess::spawn`] with its output going to `output`.
    pub async fn spawn_to(command: &mut Command, addr: SocketAddr, output: Output) -> Result<Self> {
        // `/metrics` only where the test asks for it: the fixed default admin port would clash
        // between two copies of one service (and with a stack the developer runs).
        if !command
            .as_std()
            .get_envs()
            .any(|(key, _)| key == METRICS_ADDR)
        {
            command.env(METRICS_ADDR, "off");
        }
        let mut process = Self::start(command, addr, output)?;
        process.ready(READY_DEADLINE).await?;
        Ok(process)
    }

    /// Starts `command` as it is (with stdin closed and `output`) without waiting for it:
    /// [`ServiceProcess::ready`] waits.
    pub fn start(command: &mut Command, addr: SocketAddr, output: Output) -> Result<Self> {
        let (stdout, stderr) = match &output {
            Output::Inherit => (Stdio::null(), Stdio::inherit()),
            Output::File(path) => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                (file.try_clone()?.into(), file.into())
            }
        };
        let program = Path::new(command.as_std().get_program())
            .display()
            .to_string();
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("{program} exited at once"))?;
        Ok(Self { child, pid, addr })
    }

    /// Waits until the service answers SERVING for "" (`deadline` at most); fails at once if
    /// it exits first.
    pub async fn ready(&mut self, deadline: Duration) -> Result<()> {
        tokio::select! {
            ready = wait_for_serving(self.addr, "", deadline) => ready,
            status = self.child.wait() => Err(match status {
                Ok(status) => anyhow!("it exited during startup ({status})"),
                Err(error) => anyhow!(error).context("cannot wait for it"),
            }),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until it exits, however it does.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        self.child.wait().await.context("waiting for the exit")
    }

    /// Whether it is still running (false once it has exited and been reaped).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL (no shutdown code runs), then reaps it.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await.context("SIGKILL")
    }

    /// Sends SIGTERM (by `kill`: libc is not a dependency) without waiting for the exit.
    pub fn send_terminate(&self) -> Result<()> {
        let pid = self.child.id().context("already exited")?.to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {pid}: {sent}");
        }
        Ok(())
    }

    /// SIGTERM, then waits at most `within` for the exit.
    pub async fn terminate(&mut self, within: Duration) -> Result<ExitStatus> {
        self.send_terminate()?;
        tokio::time::timeout(within, self.wait())
            .await
            .with_context(|| format!("not exited within {within:?} of SIGTERM"))?
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
