//! The bad-command-line report of the checks clap does not make (`up`'s flags), shared by the
//! front door (`xtask`) and `xtask-dev`.

use std::process::ExitCode;

/// Reports `problem` on stderr, with where to find the usage; exit code 2, as clap's own.
pub fn error(problem: &str) -> ExitCode {
    eprintln!("xtask: {problem}\n\nsee `cargo xtask help` (or `cargo xtask <command> --help`)");
    ExitCode::from(2)
}
