//! `cargo xtask lint`: the same format, clippy and proto checks CI runs, first failure wins.

use std::process::{Command, ExitCode};

use crate::workspace;

/// Pinned so a new buf release cannot break CI on its own.
pub const BUF: &str = "@bufbuild/buf@1.75.0";

/// Runs rustfmt, clippy and `buf lint` in the workspace root, stopping at the first failure.
pub fn run() -> anyhow::Result<ExitCode> {
    let mut fmt = workspace::cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    let mut clippy = workspace::cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--features",
        "xtask/dev",
        "--",
        "-D",
        "warnings",
    ]);
    let mut buf = Command::new("npx");
    buf.args(["--yes", BUF, "lint"])
        .current_dir(workspace::root());

    for mut step in [fmt, clippy, buf] {
        let status = workspace::run(&mut step)?;
        if !status.success() {
            eprintln!("lint failed: `{}` ({status})", workspace::display(&step));
            return Ok(workspace::exit_code(status));
        }
    }
    println!("lint: all clean");
    Ok(ExitCode::SUCCESS)
}
