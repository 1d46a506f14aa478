//! log-ingest-service as a real process (the harness's `ServiceProcess`): started with an
//! environment, killed with SIGKILL, stopped with SIGTERM, its resident memory read from /proc.

use std::net::SocketAddr;
use std::time::Duration;

use feedline_service_kit::Env;
use tokio::process::Command;

/// A running service process; killed when dropped.
pub struct ServiceProcess(feedline_test_harness::ServiceProcess);

impl ServiceProcess {
    /// Starts the binary with `env` and waits until it is SERVING.
    pub async fn spawn(env: &Env, addr: SocketAddr) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_log-ingest-service"));
        command.envs(env).env("RUST_LOG", "warn");
        let process = feedline_test_harness::ServiceProcess::spawn(&mut command, addr).await;
        Self(process.expect("log-ingest-service process became healthy"))
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(mut self) {
        self.0.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, then waits for the exit; returns whether it exited successfully.
    pub async fn terminate(mut self, within: Duration) -> bool {
        let exit = self.0.terminate(within).await;
        exit.expect("exited within the grace period").success()
    }

    /// Resident memory in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        self.0.rss_kib().expect("VmRSS")
    }
}
