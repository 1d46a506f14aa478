//! `xtask-dev`: the `cargo xtask` commands that need gRPC, Redis or SQL crates (`up`, `token`,
//! `logs-app`, `replay`, `dead-letters`, `demo`). The `xtask` front door (src/main.rs) builds
//! it, with the services for `up`, and execs it; it parses the whole command line again.

mod auth;
mod banner;
mod cli;
mod database;
mod dead_letters;
mod demo;
// `load` and `bench` for a direct run of xtask-dev; its list of service binaries is checked
// against `services::SERVICES` by a test.
#[allow(dead_code)]
mod handoff;
mod lint;
mod logs_app;
mod redis;
mod replay;
mod services;
mod test;
mod up;
mod up_flags;
mod usage;
mod workspace;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, DeadLetters, LogsApp};
use crate::dead_letters::Action;

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Test { extra } => test::run(&extra),
        Command::Up { flags } if cli::asks_for_help(&flags) => {
            cli::print_help("up");
            return ExitCode::SUCCESS;
        }
        Command::Up { flags } => match up_flags::UpFlags::parse(&flags) {
            Ok(up) => {
                let database = up.database.as_deref();
                up::run(up.build, up.perf, database, up.auth, up.redis_replicas).await
            }
            Err(problem) => return usage::error(&problem),
        },
        Command::Token {
            subject,
            admin,
            service,
        } => auth::run_token(&subject, admin, service),
        Command::Lint => lint::run(),
        // The front door's own; here too for a direct run of xtask-dev.
        Command::Bench { args } => handoff::bench(&args),
        Command::Load { args } => handoff::load(&args),
        Command::LogsApp(LogsApp::Create {
            name,
            addr,
            admin_token,
        }) => logs_app::run_create(&name, &addr, admin_token).await,
        Command::Replay {
            addr,
            since_minutes,
        } => replay::run(&addr, since_minutes).await,
        Command::DeadLetters(DeadLetters::List(addr)) => {
            dead_letters::run(&addr.addr, Action::List).await
        }
        Command::DeadLetters(DeadLetters::Requeue { ids, all, addr }) => {
            let action = if all {
                Action::RequeueAll
            } else {
                Action::Requeue(ids)
            };
            dead_letters::run(&addr.addr, action).await
        }
        Command::Demo => demo::run().await,
        Command::Version => {
            println!("xtask {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}
