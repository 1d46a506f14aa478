//! `xtask-dev`: the `cargo xtask` commands that need gRPC, Redis or SQL crates (`up`, `token`,
//! `bench`, `logs-app`, `replay`, `dead-letters`, `demo`). The `xtask` front door (src/main.rs)
//! builds it, with the services for `up`, and execs it; it parses the whole command line again.

mod auth;
mod banner;
mod bench;
mod cli;
mod database;
mod dead_letters;
mod demo;
// Only its list of service binaries, checked against `services::SERVICES`.
#[cfg(test)]
#[allow(dead_code)]
mod handoff;
mod lint;
mod load;
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

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match cli::parse(&args) {
        Ok(cli::Command::Test { extra }) => test::run(&extra),
        Ok(cli::Command::Up {
            build,
            perf,
            database,
            auth,
            redis_replicas,
        }) => up::run(build, perf, database.as_deref(), auth, redis_replicas).await,
        Ok(cli::Command::Token {
            subject,
            admin,
            service,
        }) => auth::run_token(&subject, admin, service),
        Ok(cli::Command::Lint) => lint::run(),
        Ok(cli::Command::BenchFanout(options)) => bench::run_fanout(options).await,
        Ok(cli::Command::BenchLogs(options)) => bench::run_logs(options).await,
        Ok(cli::Command::BenchFeed(options)) => bench::run_feed(options).await,
        Ok(cli::Command::Load { args }) => load::run(&args).await,
        Ok(cli::Command::LogsAppCreate {
            name,
            addr,
            admin_token,
        }) => logs_app::run_create(&name, &addr, admin_token).await,
        Ok(cli::Command::Replay {
            addr,
            since_minutes,
        }) => replay::run(&addr, since_minutes).await,
        Ok(cli::Command::DeadLetters { addr, action }) => dead_letters::run(&addr, action).await,
        Ok(cli::Command::Demo) => demo::run().await,
        Ok(cli::Command::Version) => {
            println!("xtask {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(problem) => return usage::error(&problem),
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}
