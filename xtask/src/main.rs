//! `cargo xtask`: the developer commands of the feedline workspace. This front door needs only
//! std, anyhow and clap, so it compiles in seconds on a fresh clone: it runs `help`, `version`,
//! `test` and `lint` itself, builds and runs loadgen for `load` and `bench`, and builds and
//! execs `xtask-dev` (src/dev.rs) for the commands that speak gRPC, Redis or SQL (`up`,
//! `token`, `logs-app`, `replay`, `dead-letters`, `demo`).

mod cli;
// Only `ServerDatabases::for_url` is used here, to check `up --database` before the build.
#[allow(dead_code)]
mod database;
mod handoff;
mod lint;
mod redis;
mod test;
mod up_flags;
mod usage;
mod workspace;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // Help, version and a bad command line end here (exit 0, 0 and 2).
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Test { extra } => test::run(&extra),
        Command::Up { flags } if cli::asks_for_help(&flags) => {
            cli::print_help("up");
            return ExitCode::SUCCESS;
        }
        Command::Up { flags } => handoff::up(&flags),
        Command::Load { args } => handoff::load(&args),
        Command::Bench { args } => handoff::bench(&args),
        Command::Lint => lint::run(),
        Command::Version => {
            println!("xtask {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Token { .. }
        | Command::LogsApp(_)
        | Command::Replay { .. }
        | Command::DeadLetters(_)
        | Command::Demo => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            handoff::dev(&args)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}
