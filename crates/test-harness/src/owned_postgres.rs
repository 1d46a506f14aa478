//! A PostgreSQL server process owned by one test, which the test can crash and start again to see
//! how a service copes with its database going away and coming back.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use tempfile::TempDir;

use crate::eventually;
use crate::tls::TestCa;

/// How long a server may take to come up (crash recovery included) or go down.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on any single initdb / pg_ctl run, a little above pg_ctl's own `-t 60`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// Ports picked by binding port 0 can be taken again before the server binds them; `start` then
/// tries a fresh port this many times in all.
const START_ATTEMPTS: usize = 3;
/// Log lines quoted in errors: enough for the FATAL line and what led to it.
const LOG_TAIL_LINES: usize = 30;

/// A PostgreSQL server owned by one test: its own data dir (a TempDir) and a free port.
pub struct OwnedPostgres {
    port: u16,
    /// Holds `initdb` and `pg_ctl`.
    bindir: PathBuf,
    /// True when we are root: PostgreSQL refuses to run as root, so its tools run as `postgres`.
    as_postgres: bool,
    /// The temp dir's path: `data/` (the cluster), `log` (server log) and the Unix socket.
    dir: PathBuf,
    /// Deleted on drop, after `Drop::drop` has stopped the server (fields drop afterwards).
    _temp: TempDir,
    /// Serves TLS (`ssl = on`) with a certificate of a test CA in `data/server.{crt,key}`.
    tls: bool,
}

impl OwnedPostgres {
    /// initdb into a fresh temp dir and start the server on a free 127.0.0.1 port.
    /// Ok(None) when the PostgreSQL server binaries (initdb, pg_ctl) cannot be found.
    pub async fn start() -> Result<Option<OwnedPostgres>> {
        Self::start_with(None).await
    }

    /// Like [`OwnedPostgres::start`], but the server also accepts TLS, with `ca`'s certificate
    /// for localhost and 127.0.0.1: for clients that verify it (`sslmode=verify-full`).
    pub async fn start_tls(ca: &TestCa) -> Result<Option<OwnedPostgres>> {
        Self::start_with(Some(ca)).await
    }

    async fn start_with(ca: Option<&TestCa>) -> Result<Option<OwnedPostgres>> {
        let Some(bindir) = tokio::task::spawn_blocking(find_bindir).await? else {
            return Ok(None);
        };
        let as_postgres = tokio::task::spawn_blocking(running_as_root).await??;
        let temp = tempfile::Builder::new()
            .prefix("feedline-pg-")
            .tempdir()
            .context("creating the PostgreSQL temp dir")?;
        let dir = temp.path().to_owned();
        if as_postgres {
            // The temp dir is root's and 0700; the server's user must own it to create data/,
            // the log and its socket there. /tmp itself is world-traversable.
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&dir);
            run(chown)
                .await
                .context("handing the temp dir to user postgres")?;
        }
        // Dropping on an error below removes the temp dir; Drop's `pg_ctl stop` is then a no-op.
        let mut pg = OwnedPostgres {
            port: 0,
            bindir,
            as_postgres,
            dir,
            _temp: temp,
            tls: ca.is_some(),
        };
        let mut initdb = pg.tool("initdb");
        initdb
            .arg("-D")
            .arg(pg.data_dir())
            // --locale=C: an inherited LANG naming an uninstalled locale would make initdb fail.
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C");
        run(initdb).await.context("initdb")?;
        if let Some(ca) = ca {
            pg.install_certificate(ca).await?;
        }
        for attempt in 1..=START_ATTEMPTS {
            pg.port = crate::free_addr()?.port();
            let log_len = std::fs::metadata(pg.log_path()).map_or(0, |m| m.len());
            match pg.pg_ctl_start().await {
                Ok(()) => break,
                // The log is appended to, so only this attempt's part says whether it lost a race
                // for the port; anything else is a real failure and retrying would not help.
                Err(error) if attempt < START_ATTEMPTS && pg.lost_port_race(log_len) => {
                    tracing::debug!(port = pg.port, %error, "port taken, trying another");
                }
                Err(error) => return Err(pg.with_log(error.context("starting PostgreSQL"))),
            }
        }
        pg.wait_for_queries()
            .await
            .map_err(|error| pg.with_log(error))?;
        Ok(Some(pg))
    }

    /// `postgres://postgres@127.0.0.1:{port}/postgres` (trust auth).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port the server listens on, the same across `stop` and `restart`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server abruptly (`pg_ctl stop -m immediate`, as a crash would) and waits until
    /// the port refuses connections.
    pub async fn stop(&self) -> Result<()> {
        let stop = self.pg_ctl_stop();
        run(stop)
            .await
            .context("pg_ctl stop -m immediate")
            .map_err(|error| self.with_log(error))?;
        // pg_ctl returns once postmaster.pid is gone; the port is what clients see, so wait on it.
        let what = format!("port {} refusing connections after pg_ctl stop", self.port);
        eventually(&what, READY_TIMEOUT, || async {
            match tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).await {
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
                Err(error) => Err(anyhow::Error::from(error)),
                Ok(_) => Err(anyhow::anyhow!("still open")),
            }
        })
        .await
        .map_err(|error| self.with_log(error))
    }

    /// Starts it again on the same data dir and port; returns once it accepts connections and
    /// answers a query (crash recovery after `stop` has finished by then).
    pub async fn restart(&self) -> Result<()> {
        let started = match self.pg_ctl_start().await {
            Ok(()) => self.wait_for_queries().await,
            Err(error) => Err(error.context("restarting PostgreSQL")),
        };
        started.map_err(|error| self.with_log(error))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// A command running `name` from the server binaries, as user postgres when we are root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bindir.join(name);
        let mut command = if self.as_postgres {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        // The test's working directory may not be readable by user postgres, and initdb and the
        // server start by looking up their current directory.
        command.current_dir(&self.dir);
        command
    }

    /// Copies `ca`'s server certificate and key to where `ssl = on` looks for them, readable
    /// by the server's user only (PostgreSQL refuses a key others can read).
    async fn install_certificate(&self, ca: &TestCa) -> Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        for (from, to) in [
            (ca.cert_file(), "server.crt"),
            (ca.key_file(), "server.key"),
        ] {
            let to = self.data_dir().join(to);
            std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
            if self.as_postgres {
                let mut chown = Command::new("chown");
                chown.arg("postgres:postgres").arg(&to);
                run(chown)
                    .await
                    .context("handing the key to user postgres")?;
            }
        }
        Ok(())
    }

    /// `pg_ctl start -w`: returns once the server reports itself ready, or fails if it exits.
    async fn pg_ctl_start(&self) -> Result<()> {
        // pg_ctl hands -o to a shell, hence the quotes around the socket dir.
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off \
             -c max_connections=100 -c shared_buffers=32MB -c ssl={}",
            self.port,
            self.dir.display(),
            if self.tls { "on" } else { "off" },
        );
        let mut start = self.tool("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(start).await.context("pg_ctl start")
    }

    fn pg_ctl_stop(&self) -> Command {
        let mut stop = self.tool("pg_ctl");
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "60", "stop"]);
        stop
    }

    /// Polls a real connection and `SELECT 1` over TCP until it works or the deadline passes;
    /// pg_ctl's readiness check alone does not prove the TCP listener serves queries.
    async fn wait_for_queries(&self) -> Result<()> {
        let what = format!("PostgreSQL on port {} answering SELECT 1", self.port);
        let url = self.url();
        eventually(&what, READY_TIMEOUT, || select_one(&url)).await
    }

    /// True when the log written after byte `from` shows the server could not bind its port.
    fn lost_port_race(&self, from: u64) -> bool {
        let log = std::fs::read(self.log_path()).unwrap_or_default();
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[from..]).contains("could not bind")
    }

    /// Adds the server log's last lines to `error`, so a CI failure shows why the server failed.
    fn with_log(&self, error: anyhow::Error) -> anyhow::Error {
        let path = self.log_path();
        let tail = match std::fs::read(&path) {
            Ok(log) => {
                let log = String::from_utf8_lossy(&log);
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            }
            Err(read) => format!("(could not read it: {read})"),
        };
        error.context(format!(
            "PostgreSQL log {} ends with:\n{tail}",
            path.display()
        ))
    }
}

impl Drop for OwnedPostgres {
    fn drop(&mut self) {
        // Blocking is fine here: `pg_ctl stop -m immediate -w` returns in well under a second.
        // Errors mean the server is already down (stopped by the test, or never started).
        let _ = self
            .pg_ctl_stop()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Connects once over TCP and runs `SELECT 1`, without sqlx's per-statement logs.
async fn select_one(url: &str) -> Result<()> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    let result = db.execute_unprepared("SELECT 1").await;
    let _ = db.close().await;
    result?;
    Ok(())
}

/// Runs `command` to completion off the async threads; fails with its output when it exits
/// non-zero or runs longer than `COMMAND_TIMEOUT`.
async fn run(command: Command) -> Result<()> {
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    let shown = format!("{:?}", command.as_std());
    let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
        .await
        .with_context(|| format!("{shown} timed out"))?
        .with_context(|| format!("running {shown}"))?;
    ensure!(
        output.status.success(),
        "{shown} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Whether the effective uid is 0, asked of `id -u` because the workspace forbids the unsafe
/// `geteuid` call.
fn running_as_root() -> Result<bool> {
    let output = Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .context("running id -u")?;
    ensure!(output.status.success(), "id -u failed: {}", output.status);
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A directory holding both `initdb` and `pg_ctl`: the highest-versioned Debian/Ubuntu
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`, else the first on PATH.
fn find_bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            // "15" or "9.6": compared as numbers so that 10 sorts above 9.6.
            let name = entry.file_name().to_str()?.to_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    // On Debian pg_config may belong to libpq-dev alone, pointing at a dir without initdb.
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|bin| has_tools(bin));
    if from_pg_config.is_some() {
        return from_pg_config;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| has_tools(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_bindir_with_both_tools_or_none() {
        if let Some(bin) = find_bindir() {
            assert!(bin.join("initdb").is_file() && bin.join("pg_ctl").is_file());
        }
    }

    #[tokio::test]
    async fn run_reports_a_failing_command_with_its_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo oops >&2; exit 3"]);
        let error = format!("{:#}", run(command).await.unwrap_err());
        assert!(error.contains("oops"), "{error}");
    }
}
