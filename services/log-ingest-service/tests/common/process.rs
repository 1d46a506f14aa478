//! log-ingest-service as a real process: started with an environment, killed with SIGKILL,
//! stopped with SIGTERM, its resident memory read from /proc.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use feedline_service_kit::Env;
use feedline_test_harness::wait_for_serving;
use tokio::process::{Child, Command};

/// A running service process; killed when dropped.
pub struct ServiceProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts the binary with `env` and waits until it is SERVING.
    pub async fn spawn(env: &Env, addr: SocketAddr) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_log-ingest-service"))
            .envs(env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn log-ingest-service");
        wait_for_serving(addr, "", Duration::from_secs(60))
            .await
            .expect("log-ingest-service process became healthy");
        Self { child, addr }
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, then waits for the exit; returns whether it exited successfully.
    pub async fn terminate(mut self, within: Duration) -> bool {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill -TERM");
        assert!(sent.success());
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("exited within the grace period")
            .expect("wait")
            .success()
    }

    /// Resident memory in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

/// A free port on 127.0.0.1 for a process to listen on.
pub async fn free_addr() -> SocketAddr {
    let listener = feedline_test_harness::ephemeral_listener()
        .await
        .expect("listener");
    listener.local_addr().expect("addr")
}
