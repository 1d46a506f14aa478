//! Makes sure `redis-server` is installed: tests and `up` start throwaway Redis Clusters with it.

use std::process::{Command, Stdio};

use anyhow::bail;

use crate::workspace;

const INSTALL_HINT: &str = "sudo apt-get install -y redis-server   (macOS: brew install redis)";

/// Returns once `redis-server` is available, installing it with apt-get when running as root.
pub fn ensure_redis_server() -> anyhow::Result<()> {
    if redis_server_available() {
        return Ok(());
    }
    if !(is_root() && workspace::on_path("apt-get")) {
        bail!(
            "redis-server is not installed (tests and `cargo xtask up` start a local Redis \
             Cluster with it); install it with:\n    {INSTALL_HINT}"
        );
    }
    println!("redis-server is not installed; installing it with apt-get");
    for args in [&["update"][..], &["install", "-y", "redis-server"][..]] {
        let mut apt = Command::new("apt-get");
        apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = workspace::run(&mut apt)?;
        if !status.success() {
            bail!(
                "`{}` failed ({status}); install redis-server yourself:\n    {INSTALL_HINT}",
                workspace::display(&apt)
            );
        }
    }
    if !redis_server_available() {
        bail!("apt-get installed redis-server but it is still not found on PATH");
    }
    println!("redis-server installed");
    Ok(())
}

/// Whether we run as root (`id -u` prints 0); libc is not a dependency.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

/// Whether `redis-server --version` runs (the test harness asks the same before it starts nodes).
fn redis_server_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
