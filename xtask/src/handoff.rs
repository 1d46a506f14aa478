//! The front door's hand-off: builds `xtask-dev` (with the services for `up`) or loadgen and
//! execs it, so the heavy crates are compiled only by the commands that use them.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow};

use crate::cli::BENCHES;
use crate::up_flags::UpFlags;
use crate::workspace;

/// The binary of this package that holds the commands needing gRPC, Redis or SQL.
pub const DEV_BIN: &str = "xtask-dev";
/// The feature `xtask-dev` requires.
pub const DEV_FEATURE: &str = "xtask/dev";
/// The services `up` builds and starts (`services::SERVICES` in `xtask-dev`, checked by a
/// test there).
pub const SERVICE_BINS: [&str; 4] = [
    "post-service",
    "fanout-service",
    "feed-read-service",
    "log-ingest-service",
];

/// `cargo build` of `bins` with every workspace member selected and `xtask/dev` on: features
/// resolve as for a plain `cargo build` (xtask-dev's optional dependencies are all built by
/// it anyway), so no dependency is compiled twice for two feature sets.
pub fn build(profile: &str, bins: &[&str]) -> Command {
    let mut cargo = workspace::cargo();
    cargo.args(["build", "--workspace", "--features", DEV_FEATURE]);
    if profile != "debug" {
        cargo.args(["--profile", profile]);
    }
    for bin in bins {
        cargo.args(["--bin", bin]);
    }
    cargo
}

/// Where cargo puts `bin` for `profile` ("debug" or "perf").
pub fn binary(profile: &str, bin: &str) -> PathBuf {
    workspace::target_dir().join(profile).join(bin)
}

/// Replaces this process with `program ARGS` (same pid, so a SIGTERM sent to `cargo xtask`
/// reaches it); returns only if it cannot start.
pub fn exec(program: &Path, args: &[String]) -> Result<ExitCode> {
    let error = Command::new(program).args(args).exec();
    Err(anyhow!(error)).with_context(|| format!("cannot start {}", program.display()))
}

/// Runs `args` in `xtask-dev`, first building it quietly (as `cargo run --quiet` would) when
/// a workspace file changed since it was built. The check is ours, not cargo's: `cargo xtask
/// test` builds xtask-dev with the tests' features, and a cargo build with a plain build's
/// features would compile most of the tree again (minutes) for `token` during a walk-through.
pub fn dev(args: &[String]) -> Result<ExitCode> {
    let bin = binary("debug", DEV_BIN);
    if built_after_sources(&bin) {
        return exec(&bin, args);
    }
    let mut cargo = build("debug", &[DEV_BIN]);
    cargo.arg("--quiet");
    let shown = workspace::display(&cargo);
    let status = cargo
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        return Ok(workspace::exit_code(status));
    }
    exec(&bin, args)
}

/// Folders of the workspace that no build reads (`__pycache__`: the deploy checks, which
/// `cargo xtask test` runs after building xtask-dev, write there).
const NOT_SOURCES: [&str; 6] = [
    "target",
    ".git",
    ".feedline",
    "node_modules",
    "fuzz",
    "__pycache__",
];

/// Whether `bin` exists and is newer than every file of the workspace outside [`NOT_SOURCES`]
/// and the target folder.
fn built_after_sources(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|meta| meta.modified()) else {
        return false;
    };
    newest_file(&workspace::root(), &workspace::target_dir()).is_some_and(|newest| newest < built)
}

/// The latest modification time under `dir`, skipping `target` and [`NOT_SOURCES`]; None if
/// any of it cannot be read.
fn newest_file(dir: &Path, target: &Path) -> Option<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let path = entry.path();
        let kind = entry.file_type().ok()?;
        if kind.is_dir() {
            let skipped = NOT_SOURCES.iter().any(|name| entry.file_name() == *name);
            if skipped || path == target {
                continue;
            }
            newest = newest.max(newest_file(&path, target)?);
        } else {
            newest = newest.max(entry.metadata().ok()?.modified().ok()?);
        }
    }
    Some(newest)
}

/// `cargo xtask up ARGS`: builds the services and `xtask-dev` in one cargo run (unless
/// `--no-build`), then runs `xtask-dev up ARGS --no-build`. The flags are checked first, so a
/// typo fails before the build.
pub fn up(args: &[String]) -> Result<ExitCode> {
    let flags = match UpFlags::parse(args) {
        Ok(flags) => flags,
        Err(problem) => return Ok(crate::usage::error(&problem)),
    };
    let profile = if flags.perf { "perf" } else { "debug" };
    let mut dev_args = vec!["up".to_owned()];
    dev_args.extend_from_slice(args);
    if flags.build {
        let mut bins = SERVICE_BINS.to_vec();
        bins.push(DEV_BIN);
        let status = workspace::run(&mut build(profile, &bins))?;
        if !status.success() {
            return Ok(workspace::exit_code(status));
        }
        dev_args.push("--no-build".to_owned());
    } else if !binary(profile, DEV_BIN).is_file() {
        // `--no-build` uses the binaries there are; `cargo xtask test` builds xtask-dev too.
        let status = workspace::run(&mut build(profile, &[DEV_BIN]))?;
        if !status.success() {
            return Ok(workspace::exit_code(status));
        }
    }
    exec(&binary(profile, DEV_BIN), &dev_args)
}

/// `cargo xtask load ARGS`: builds loadgen with the `perf` profile and runs it in our
/// working directory (so `--json out.json` lands where the command was typed); loadgen
/// checks its own command line (`load --help` lists every option).
pub fn load(args: &[String]) -> Result<ExitCode> {
    let status = workspace::run(&mut build("perf", &["loadgen"]))?;
    if !status.success() {
        return Ok(workspace::exit_code(status));
    }
    exec(&binary("perf", "loadgen"), args)
}

/// `cargo xtask bench NAME ARGS`: builds loadgen (with its `bench` feature, which `xtask/dev`
/// turns on) and the services benchmark NAME starts, all with the `perf` profile, then runs
/// `loadgen bench NAME ARGS`, which starts them from its own folder. A NAME it does not know
/// (or `--help`) builds loadgen alone, and loadgen answers.
pub fn bench(args: &[String]) -> Result<ExitCode> {
    let name = args.first().map_or("", String::as_str);
    let services = BENCHES
        .iter()
        .find(|(bench, _)| *bench == name)
        .map_or(&[][..], |(_, services)| *services);
    if matches!(name, "fanout" | "feed") {
        // Their throwaway Redis Cluster is made of redis-server processes.
        crate::redis::ensure_redis_server()?;
    }
    let mut bins = services.to_vec();
    bins.push("loadgen");
    let status = workspace::run(&mut build("perf", &bins))?;
    if !status.success() {
        return Ok(workspace::exit_code(status));
    }
    let mut loadgen_args = vec!["bench".to_owned()];
    loadgen_args.extend_from_slice(args);
    exec(&binary("perf", "loadgen"), &loadgen_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn up_flags_are_checked_before_the_build() {
        let parse = |line: &str| UpFlags::parse(&args(line)).map(|f| (f.build, f.perf));
        assert_eq!(parse(""), Ok((true, false)));
        assert_eq!(
            parse("--perf --no-build --redis-replicas 1 --no-auth"),
            Ok((false, true))
        );
        assert_eq!(
            parse("--database postgres://postgres@127.0.0.1:5432"),
            Ok((true, false))
        );
        for bad in [
            "--fast",
            "--perf --perf",
            "--no-build --no-build",
            "--database",
            "--database sqlite://x.db",
            "--database mysql://r@h/a --database mysql://r@h/b",
            "--redis-replicas 3",
            "--redis-replicas one",
            "--redis-replicas",
            "--redis-replicas 1 --redis-replicas 2",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_select_the_whole_workspace_with_xtask_dev() {
        let cargo = build("perf", &["post-service", DEV_BIN]);
        let line = workspace::display(&cargo);
        assert_eq!(
            line,
            "cargo build --workspace --features xtask/dev --profile perf \
             --bin post-service --bin xtask-dev"
        );
        assert_eq!(
            workspace::display(&build("debug", &["loadgen"])),
            "cargo build --workspace --features xtask/dev --bin loadgen"
        );
    }

    #[test]
    fn the_newest_file_skips_build_output_and_state() -> std::io::Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-newest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["src", "target", ".feedline", "elsewhere"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        std::fs::write(root.join("src/lib.rs"), "")?;
        let source = std::fs::metadata(root.join("src/lib.rs"))?.modified()?;
        let later = source + std::time::Duration::from_secs(60);
        for skipped in ["target/x", ".feedline/y", "elsewhere/z"] {
            std::fs::File::create(root.join(skipped))?.set_modified(later)?;
        }
        let newest = newest_file(&root, &root.join("elsewhere"));
        std::fs::remove_dir_all(&root)?;
        assert_eq!(newest, Some(source));
        Ok(())
    }
}
