//! The services a benchmark runs: the `perf` binaries beside loadgen's own (`cargo xtask bench`
//! builds them together), started through the test harness's launcher on free ports, each with
//! its output in a log file, killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use feedline_test_harness::{Output, ServiceProcess, free_addr, isolated_command};

/// How long a started service may take to report SERVING.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A service about to run: its binary, address and log file.
pub struct Planned {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Planned {
    /// `name` on a free port, logging into `log_dir`.
    pub fn new(name: &'static str, log_dir: &Path) -> Result<Self> {
        Ok(Self {
            name,
            addr: free_addr()?,
            log: log_dir.join(format!("{name}.log")),
        })
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts it with `env` (its listen address added) without waiting for it.
    pub fn start(&self, env: &[(&str, String)]) -> Result<ServiceProcess> {
        let listen = ("FEEDLINE_LISTEN_ADDR", self.addr.to_string());
        let env = env.iter().cloned().chain([listen]);
        let mut command = isolated_command(binary(self.name)?, env, &[]);
        ServiceProcess::start(&mut command, self.addr, Output::File(self.log.clone()))
    }

    /// Starts it and waits until it serves.
    pub async fn run(&self, env: &[(&str, String)]) -> Result<ServiceProcess> {
        let mut process = self.start(env)?;
        self.ready(&mut process).await?;
        Ok(process)
    }

    /// Waits until `process` (started from this plan) serves; the log's tail if it does not.
    pub async fn ready(&self, process: &mut ServiceProcess) -> Result<()> {
        process
            .ready(READY_DEADLINE)
            .await
            .map_err(|error| self.failure(error.context(format!("{} did not start", self.name))))
    }

    /// `error` with the last lines of the service's log: the likely why.
    pub fn failure(&self, error: anyhow::Error) -> anyhow::Error {
        match log_tail(&self.log, 30) {
            Some(tail) => error.context(format!(
                "last lines of {}:\n{tail}\n---",
                self.log.display()
            )),
            None => error,
        }
    }
}

/// The last `lines` lines of `log`, if it has any.
pub fn log_tail(log: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    (!tail.is_empty()).then_some(tail)
}

/// `name` in loadgen's own folder, where `cargo xtask bench` builds it in the same profile.
fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find loadgen's own path")?;
    let bin = exe.with_file_name(name);
    if !bin.is_file() {
        bail!(
            "{} is missing: `cargo xtask bench` builds it beside loadgen",
            bin.display()
        );
    }
    Ok(bin)
}
