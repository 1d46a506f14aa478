//! `cargo xtask up`: a local Redis Cluster and the services, running until Ctrl-C or SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use feedline_test_harness::{Output, RedisCluster, ServiceProcess};
use futures::future::{self, FutureExt as _};
use tokio::process::Command;
use tonic::Code;

use crate::database::ServerDatabases;
use crate::logs_app::{self, CreatedApp};
use crate::services::{SERVICES, Service, Stack};
use crate::{banner, redis, workspace};

mod signals;

use signals::Signals;

const REDIS_FIRST_PORT: u16 = 30001;
const REDIS_MASTERS: usize = 3;
/// Redis Cluster nodes also listen on port + 10000 for the cluster bus.
const REDIS_BUS_OFFSET: u16 = 10000;
const HEALTH_DEADLINE: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(15);
const LOG_TAIL_LINES: usize = 20;
/// The service whose demo app `up` creates once everything is healthy.
const LOG_SERVICE: &str = "log-ingest-service";
const DEMO_APP_DEADLINE: Duration = Duration::from_secs(15);

/// Builds (unless `build` is false; with the `perf` profile if `perf`, else debug), starts
/// everything (the database services on `database`'s server, else on SQLite files; the
/// cluster with `redis_replicas` replicas per master), waits for a signal, stops everything.
pub async fn run(
    build: bool,
    perf: bool,
    database: Option<&str>,
    auth: bool,
    redis_replicas: usize,
) -> anyhow::Result<ExitCode> {
    let profile = if perf { "perf" } else { "debug" };
    let databases = database.map(ServerDatabases::for_url).transpose()?;
    // Installed first: from here on Ctrl-C is a request to stop cleanly, not an instant death.
    let mut signals = Signals::install()?;
    redis::ensure_redis_server()?;
    let started: Vec<&'static Service> = SERVICES.iter().filter(|s| s.started).collect();
    if let Some(busy) = busy_port(&started, REDIS_MASTERS * (1 + redis_replicas)) {
        eprintln!("{busy}");
        return Ok(ExitCode::FAILURE);
    }
    if build && !started.is_empty() {
        let mut cargo = workspace::cargo();
        cargo.arg("build");
        if perf {
            cargo.args(["--profile", "perf"]);
        }
        for service in &started {
            cargo.args(["--bin", service.bin]);
        }
        let status = workspace::run(&mut cargo)?;
        if !status.success() {
            return Ok(workspace::exit_code(status));
        }
    }

    if let Some(databases) = &databases {
        // Before the cluster: a server that is not there fails in seconds, with nothing to stop.
        databases.create().await?;
        println!(
            "post-service on {}, log-ingest-service on {}",
            databases.post, databases.logs
        );
    }
    let state_dir = workspace::root().join(".feedline");
    let logs_dir = state_dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .with_context(|| format!("cannot create {}", logs_dir.display()))?;
    // start_in wipes node folders of an earlier run itself, so the cluster is always fresh.
    let redis_dir = state_dir.join("redis");
    let replicas = match redis_replicas {
        0 => String::new(),
        1 => " with a replica each".to_owned(),
        n => format!(" with {n} replicas each"),
    };
    println!(
        "starting a {REDIS_MASTERS}-master Redis Cluster{replicas} on ports {REDIS_FIRST_PORT}.."
    );
    let cluster = tokio::select! {
        cluster = RedisCluster::start_in(
            &redis_dir,
            REDIS_FIRST_PORT,
            REDIS_MASTERS,
            redis_replicas,
        ) => {
            cluster.context("cannot start the Redis Cluster")?
        }
        name = signals.recv() => {
            println!("{name} received during startup: stopped");
            return Ok(ExitCode::from(130));
        }
    };
    let stack = Stack {
        state_dir,
        redis_url: cluster.url(),
        databases,
        auth: if auth {
            Some(crate::auth::prepare()?)
        } else {
            None
        },
    };
    let mut running = Running {
        cluster: Some(cluster),
        processes: Vec::new(),
    };
    for service in started {
        let process = Process::spawn(service, profile, &stack, &logs_dir)?;
        println!("started {} (pid {})", service.name, process.process.pid());
        running.processes.push(process);
    }

    let startup = tokio::select! {
        failure = running.wait_healthy() => Ok(failure),
        name = signals.recv() => Err(name),
    };
    let failure = match startup {
        Ok(failure) => failure,
        Err(name) => {
            println!("{name} received during startup: stopping");
            running.stop().await;
            return Ok(ExitCode::from(130));
        }
    };
    if let Some((process, problem)) = failure {
        eprintln!(
            "{} did not become healthy: {problem:#}",
            process.service.name
        );
        print_log_tail(&process.log);
        running.stop().await;
        return Ok(ExitCode::FAILURE);
    }

    let demo = match running.log_service() {
        None => None,
        Some(log_service) => {
            let created = tokio::select! {
                created = create_demo_app(log_service.service) => created,
                name = signals.recv() => {
                    println!("{name} received during startup: stopping");
                    running.stop().await;
                    return Ok(ExitCode::from(130));
                }
            };
            match created {
                Ok(app) => Some(app),
                Err(problem) => {
                    eprintln!("cannot create the demo app: {problem:#}");
                    print_log_tail(&log_service.log);
                    running.stop().await;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    banner::print(&stack, &logs_dir, demo.as_ref());
    let crashed = tokio::select! {
        name = signals.recv() => {
            println!("{name} received: stopping");
            None
        }
        crashed = running.first_exit() => Some(crashed),
    };
    running.stop().await;
    match crashed {
        None => Ok(ExitCode::SUCCESS),
        Some((process, status)) => {
            eprintln!("{} exited on its own ({status})", process.service.name);
            print_log_tail(&process.log);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Everything `up` started. Dropping it (when xtask errors or panics) kills the services
/// (spawned with `kill_on_drop`) and the Redis nodes (the cluster's `Drop`); `stop` is the
/// graceful path.
struct Running {
    /// Taken by `stop`, after the services have gone.
    cluster: Option<RedisCluster>,
    processes: Vec<Process>,
}

/// A started service.
struct Process {
    service: &'static Service,
    /// The harness's launcher: dropping it SIGKILLs the service.
    process: ServiceProcess,
    log: PathBuf,
}

/// Identifies a process by what it runs and where it logs, once its `Child` is borrowed.
#[derive(Clone)]
struct ProcessInfo {
    service: &'static Service,
    log: PathBuf,
}

impl Process {
    /// Starts `service` from `target/<profile>/`.
    fn spawn(
        service: &'static Service,
        profile: &str,
        stack: &Stack,
        logs_dir: &Path,
    ) -> anyhow::Result<Self> {
        let bin = workspace::target_dir().join(profile).join(service.bin);
        let log = logs_dir.join(format!("{}.log", service.name));
        let mut command = Command::new(&bin);
        command
            .envs(service.env(stack))
            .current_dir(workspace::root())
            // Its own process group: Ctrl-C in the terminal reaches only xtask, which then
            // stops the services before the Redis nodes they talk to.
            .process_group(0);
        let output = Output::File(log.clone());
        let process =
            ServiceProcess::start(&mut command, service.addr(), output).with_context(|| {
                format!(
                    "cannot start {} (build it with `cargo build --profile {} --bin {}`)",
                    bin.display(),
                    if profile == "debug" { "dev" } else { profile },
                    service.bin
                )
            })?;
        Ok(Self {
            service,
            process,
            log,
        })
    }

    fn info(&self) -> ProcessInfo {
        ProcessInfo {
            service: self.service,
            log: self.log.clone(),
        }
    }
}

impl Running {
    /// log-ingest-service, when `up` started it.
    fn log_service(&self) -> Option<ProcessInfo> {
        self.processes
            .iter()
            .find(|p| p.service.name == LOG_SERVICE)
            .map(Process::info)
    }

    /// Waits until every service answers SERVING for "" or one fails; returns the failure.
    async fn wait_healthy(&mut self) -> Option<(ProcessInfo, anyhow::Error)> {
        for process in &mut self.processes {
            let addr = process.service.addr();
            if let Err(problem) = process.process.ready(HEALTH_DEADLINE).await {
                return Some((process.info(), problem));
            }
            println!("{} is serving on {addr}", process.service.name);
        }
        None
    }

    /// Resolves when any service exits; never when none runs.
    async fn first_exit(&mut self) -> (ProcessInfo, String) {
        if self.processes.is_empty() {
            return future::pending().await;
        }
        let waits = self.processes.iter_mut().map(|process| {
            async move {
                let status = process.process.wait().await;
                let status = status.map_or_else(|e| format!("{e:#}"), |s| s.to_string());
                (process.info(), status)
            }
            .boxed()
        });
        future::select_all(waits).await.0
    }

    /// SIGTERM to every service, up to `STOP_GRACE` for them to exit, SIGKILL for the rest,
    /// then the Redis Cluster.
    async fn stop(&mut self) {
        for Process { process, .. } in &mut self.processes {
            if process.running()
                && let Err(error) = process.send_terminate()
            {
                eprintln!("cannot send SIGTERM to pid {}: {error:#}", process.pid());
            }
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        for process in &mut self.processes {
            let name = process.service.name;
            match tokio::time::timeout_at(deadline, process.process.wait()).await {
                Ok(Ok(status)) => println!("{name} stopped ({})", describe(status)),
                Ok(Err(error)) => eprintln!("cannot wait for {name}: {error:#}"),
                Err(_) => {
                    eprintln!("{name} did not stop within {STOP_GRACE:?}: killing it");
                    if let Err(error) = process.process.kill().await {
                        eprintln!("cannot kill {name}: {error:#}");
                    }
                }
            }
        }
        if let Some(mut cluster) = self.cluster.take() {
            cluster.stop();
            println!("redis cluster stopped");
        }
        println!("stopped");
    }
}

/// Registers the demo app whose key the banner shows: "demo", or "demo-<unix seconds>" when
/// `.feedline/logs.db` kept "demo" from an earlier run (its key was shown only then).
async fn create_demo_app(service: &Service) -> anyhow::Result<CreatedApp> {
    let addr = format!("http://{}", service.addr());
    // The service inherits our environment, so it expects the same admin token, if any.
    let token = logs_app::admin_token(None);
    let attempt = async {
        let channel = logs_app::connect(&addr).await?;
        match logs_app::create(channel.clone(), "demo", token.as_deref()).await {
            Err(status) if status.code() == Code::AlreadyExists => {
                let seconds = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let name = format!("demo-{seconds}");
                logs_app::create(channel, &name, token.as_deref())
                    .await
                    .map_err(|status| anyhow!("CreateApp {name}: {}", logs_app::describe(&status)))
            }
            created => {
                created.map_err(|status| anyhow!("CreateApp demo: {}", logs_app::describe(&status)))
            }
        }
    };
    tokio::time::timeout(DEMO_APP_DEADLINE, attempt)
        .await
        .map_err(|_| anyhow!("CreateApp did not answer within {DEMO_APP_DEADLINE:?}"))?
}

fn describe(status: ExitStatus) -> String {
    if status.success() {
        "exit code 0".to_owned()
    } else {
        status.to_string()
    }
}

/// One line naming the first port `up` needs (the services', and those of `redis_nodes`
/// cluster nodes) that something else holds.
fn busy_port(services: &[&Service], redis_nodes: usize) -> Option<String> {
    let mut wanted: Vec<(u16, String)> = services
        .iter()
        .map(|s| (s.port, s.name.to_owned()))
        .collect();
    for port in (REDIS_FIRST_PORT..).take(redis_nodes) {
        wanted.push((port, "a Redis Cluster node".to_owned()));
        wanted.push((port + REDIS_BUS_OFFSET, "a Redis Cluster bus".to_owned()));
    }
    wanted.into_iter().find_map(|(port, user)| {
        TcpListener::bind(("127.0.0.1", port)).is_err().then(|| {
            format!(
                "port {port} (for {user}) is already in use: is another `cargo xtask up` \
                 running? (`ss -ltnp 'sport = :{port}'` shows who holds it)"
            )
        })
    })
}

fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read(log) else {
        eprintln!("(cannot read {})", log.display());
        return;
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    eprintln!("--- last {} lines of {} ---", tail.len(), log.display());
    for line in tail {
        eprintln!("{line}");
    }
    eprintln!("---");
}
