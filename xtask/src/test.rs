//! `cargo xtask test`: finds the database servers to test against, runs the workspace tests,
//! then the deployment material's own checks (`deploy/check.py`).

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::{redis, workspace};

/// A server-backed database the storage tests can run against (sqlite always runs).
struct Backend {
    name: &'static str,
    /// The variable the tests read; unset means "skip this backend".
    env: &'static str,
    addr: &'static str,
    /// The URL set when a server answers on `addr` and `env` is not set.
    default_url: &'static str,
}

const BACKENDS: [Backend; 2] = [
    Backend {
        name: "postgres",
        env: "FEEDLINE_TEST_POSTGRES_URL",
        addr: "127.0.0.1:5432",
        default_url: "postgres://postgres@127.0.0.1:5432/postgres",
    },
    Backend {
        name: "mysql",
        env: "FEEDLINE_TEST_MYSQL_URL",
        addr: "127.0.0.1:3306",
        default_url: "mysql://root@127.0.0.1:3306/mysql",
    },
];

/// What was decided for one backend.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// The variable is already set: the tests use it as is.
    FromEnv,
    /// A server answered: the variable is set to the default URL for the child.
    Detected(&'static str),
    /// Neither: the tests skip this backend.
    Skipped(String),
}

/// Runs `cargo test --workspace --all-targets EXTRA`, then, if it passed, `deploy/check.py`;
/// returns the exit code of the first that failed.
pub fn run(extra: &[String]) -> anyhow::Result<ExitCode> {
    redis::ensure_redis_server()?;
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());

    let plans: Vec<(&Backend, Plan)> = BACKENDS.iter().map(|b| (b, plan(b))).collect();
    let summary = summary(&plans);
    println!("{summary}");
    if in_ci {
        for (backend, plan) in &plans {
            if let Plan::Skipped(why) = plan {
                println!(
                    "WARNING: CI is set but the {} tests are skipped: {why}",
                    backend.name
                );
            }
        }
    }

    let mut cargo = workspace::cargo();
    cargo
        .args(["test", "--workspace", "--all-targets"])
        .args(extra);
    for (backend, plan) in &plans {
        if let Plan::Detected(url) = plan {
            cargo.env(backend.env, url);
        }
    }
    let status = workspace::run(&mut cargo)?;
    println!("{summary}");
    if !status.success() {
        return Ok(workspace::exit_code(status));
    }
    deploy_checks()
}

/// The checks of the deployment material that need Python tools: the Compose schema, cfn-lint
/// and botocore's ECS shapes (the Rust side, what the services read, is `xtask/tests/deploy.rs`).
/// The script makes its own venv under `target/deploy-venv`.
fn deploy_checks() -> anyhow::Result<ExitCode> {
    let script = workspace::root().join("deploy").join("check.py");
    if !script.is_file() {
        eprintln!(
            "deploy checks: {} is missing; it belongs to the repository",
            script.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("deploy checks: compose schema, cfn-lint, ECS task definitions");
    let mut python = Command::new("python3");
    python
        .arg(Path::new("deploy").join("check.py"))
        .current_dir(workspace::root());
    let status = workspace::run(&mut python)?;
    if status.success() {
        println!("deploy checks: all clean");
    } else {
        eprintln!(
            "deploy checks failed: `{}` ({status})",
            workspace::display(&python)
        );
    }
    Ok(workspace::exit_code(status))
}

fn plan(backend: &Backend) -> Plan {
    if std::env::var_os(backend.env).is_some_and(|url| !url.is_empty()) {
        return Plan::FromEnv;
    }
    if reachable(backend.addr) {
        Plan::Detected(backend.default_url)
    } else {
        Plan::Skipped(format!(
            "nothing answers on {} and {} is not set",
            backend.addr, backend.env
        ))
    }
}

/// Whether a TCP connection to `addr` succeeds within a second.
fn reachable(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .is_ok_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
}

/// `database backends: sqlite, postgres (skipped: mysql: why)`: printed before and after the run.
fn summary(plans: &[(&Backend, Plan)]) -> String {
    let mut line = String::from("database backends: sqlite");
    for (backend, plan) in plans {
        match plan {
            Plan::FromEnv => line += &format!(", {} (from {})", backend.name, backend.env),
            Plan::Detected(_) => line += &format!(", {}", backend.name),
            Plan::Skipped(_) => {}
        }
    }
    let skipped: Vec<String> = plans
        .iter()
        .filter_map(|(backend, plan)| match plan {
            Plan::Skipped(why) => Some(format!("{}: {why}", backend.name)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        line += &format!(" (skipped: {})", skipped.join("; "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_running_and_skipped_backends() {
        let [postgres, mysql] = &BACKENDS;
        let all = [
            (postgres, Plan::Detected(postgres.default_url)),
            (mysql, Plan::Detected(mysql.default_url)),
        ];
        assert_eq!(summary(&all), "database backends: sqlite, postgres, mysql");

        let some = [
            (postgres, Plan::FromEnv),
            (mysql, Plan::Skipped("nothing answers".to_owned())),
        ];
        assert_eq!(
            summary(&some),
            "database backends: sqlite, postgres (from FEEDLINE_TEST_POSTGRES_URL) \
             (skipped: mysql: nothing answers)"
        );
    }
}
