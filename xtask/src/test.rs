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

/// Runs `cargo test --workspace --all-targets --features xtask/dev EXTRA`, then, if it passed, `deploy/check.py`;
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
        // `xtask/dev`: xtask-dev's own tests, and its binary for a later `up --no-build`.
        .args(["test", "--workspace", "--all-targets", "--features"])
        .arg("xtask/dev")
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
    deploy_checks(in_ci)
}

/// The checks of the deployment material that need Python tools: the Compose schema, cfn-lint
/// and botocore's ECS shapes (the Rust side, what the services read, is `xtask/tests/deploy.rs`).
/// The script makes its own venv under `target/deploy-venv`. Where it cannot run (no
/// `python3`, or the script's exit code [`DEPLOY_CHECKS_CANNOT_RUN`]: Python too old, no venv
/// or pip, no package index), the checks are reported as skipped: a success, except in CI
/// (`in_ci`), where every check must run.
fn deploy_checks(in_ci: bool) -> anyhow::Result<ExitCode> {
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
    run_deploy_checks(python, in_ci)
}

/// Runs `checker` (deploy/check.py under an interpreter) and judges its outcome: a missing
/// interpreter or [`DEPLOY_CHECKS_CANNOT_RUN`] is a skip (see [`skipped`]).
fn run_deploy_checks(mut checker: Command, in_ci: bool) -> anyhow::Result<ExitCode> {
    let shown = workspace::display(&checker);
    println!("$ {shown}");
    let status = match checker.status() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let program = checker.get_program().to_string_lossy().into_owned();
            return Ok(skipped(
                &format!("{program} is not installed (Python 3.11 or newer runs them)"),
                in_ci,
            ));
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context(format!("cannot run `{shown}`")));
        }
        Ok(status) => status,
    };
    if status.code() == Some(DEPLOY_CHECKS_CANNOT_RUN) {
        return Ok(skipped(
            "deploy/check.py cannot run on this machine (its line above says why)",
            in_ci,
        ));
    }
    if status.success() {
        println!("deploy checks: all clean");
    } else {
        eprintln!("deploy checks failed: `{shown}` ({status})");
    }
    Ok(workspace::exit_code(status))
}

/// deploy/check.py's exit code when its prerequisites are missing
/// (`EXIT_MISSING_PREREQUISITES` there).
const DEPLOY_CHECKS_CANNOT_RUN: i32 = 3;

/// Reports the deploy checks as skipped for `why`: exit 0 on a developer's machine, a failure
/// in CI, where a skipped check would pass unnoticed.
fn skipped(why: &str, in_ci: bool) -> ExitCode {
    if in_ci {
        eprintln!("deploy checks: NOT RUN: {why}; CI is set, so a skipped check fails the run");
        ExitCode::FAILURE
    } else {
        println!(
            "deploy checks: SKIPPED: {why}. The Rust tests passed; the compose schema, cfn-lint \
             and ECS shape checks did not run (the README lists what they need)"
        );
        ExitCode::SUCCESS
    }
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

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_skipped_deploy_check_fails_only_in_ci() {
        let missing = || Command::new("python3-that-is-not-installed");
        let cannot_run = || sh("echo 'cannot run: no pip' >&2; exit 3");
        for (checker, in_ci, expected) in [
            (missing(), false, ExitCode::SUCCESS),
            (missing(), true, ExitCode::FAILURE),
            (cannot_run(), false, ExitCode::SUCCESS),
            (cannot_run(), true, ExitCode::FAILURE),
            (sh("exit 0"), true, ExitCode::SUCCESS),
            (sh("exit 1"), false, ExitCode::FAILURE),
        ] {
            let shown = workspace::display(&checker);
            let code = run_deploy_checks(checker, in_ci).unwrap();
            assert_eq!(code, expected, "{shown} in CI: {in_ci}");
        }
    }

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
