//! `cargo xtask load <scenario> [options]`: builds the load generator (`crates/loadgen`) with
//! the `perf` profile and runs it against the running stack, passing the options through.
//! The command line is checked before the build, so a typo fails at once.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use feedline_loadgen::cli::{self, Parsed};

use crate::workspace;

/// Builds and runs `loadgen ARGS`; its exit code is ours.
pub async fn run(args: &[String]) -> Result<ExitCode> {
    if let Ok(Parsed::Help) = cli::parse(args) {
        println!("{}", cli::USAGE);
        return Ok(ExitCode::SUCCESS);
    }
    let mut cargo = workspace::cargo();
    cargo.args(["build", "--profile", "perf", "--bin", "loadgen"]);
    let built = workspace::run(&mut cargo)?;
    if !built.success() {
        return Ok(workspace::exit_code(built));
    }
    let bin = workspace::target_dir().join("perf").join("loadgen");
    // Our working directory, so `--json out.json` lands where the command was typed.
    let mut child = tokio::process::Command::new(&bin)
        .args(args)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("waiting for loadgen")?,
            // The terminal sends Ctrl-C to loadgen too: it ends its load early and still
            // checks and reports, so we wait for it instead of dying first.
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    Ok(workspace::exit_code(status))
}
