//! What every benchmark does with service binaries: build them in the `perf` profile, start them
//! on free ports with their output in a log file, and kill them when the benchmark ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::workspace;

/// A started service; dropping it kills the process, so an early `?` never leaks one.
pub struct Proc(Child);

impl Proc {
    /// Whether it has exited already (a crash during a run, told apart from a slow service).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo build --profile perf` of `bins`: release speed, without thin LTO's long link.
pub fn build_perf(bins: &[&str]) -> Result<()> {
    let mut cargo = workspace::cargo();
    cargo.args(["build", "--profile", "perf"]);
    for bin in bins {
        cargo.args(["--bin", bin]);
    }
    if !workspace::run(&mut cargo)?.success() {
        bail!("build failed");
    }
    Ok(())
}

/// Where `build_perf` put `bin`.
pub fn perf_bin(bin: &str) -> PathBuf {
    workspace::target_dir().join("perf").join(bin)
}

/// Starts `bin` with `env` on top of ours, stdout and stderr both into `log`.
pub fn spawn(bin: &Path, env: &[(&str, String)], log: &Path) -> Result<Proc> {
    let log = std::fs::File::create(log)?;
    let child = Command::new(bin)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Proc(child))
}

/// A port nothing listens on right now (the service binds it a moment later).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
