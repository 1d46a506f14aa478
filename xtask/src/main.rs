//! `cargo xtask`: the developer commands of the feedline workspace. This front door needs only
//! std and anyhow, so it compiles in seconds on a fresh clone: it runs `help`, `version`,
//! `test` and `lint` itself, builds and runs loadgen for `load`, and builds and execs
//! `xtask-dev` (src/dev.rs) for the commands that speak gRPC, Redis or SQL (`up`, `token`,
//! `bench`, `logs-app`, `replay`, `dead-letters`, `demo`).

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

/// The commands `xtask-dev` runs, after a build of it.
const DEV_COMMANDS: [&str; 6] = [
    "token",
    "bench",
    "logs-app",
    "replay",
    "dead-letters",
    "demo",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        return usage::error("no command given");
    };
    let result = match command.as_str() {
        // `cargo xtask test -- --nocapture` and `cargo xtask test -p x` both pass through.
        "test" => test::run(rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest)),
        "up" => handoff::up(rest),
        "load" => handoff::load(rest),
        "lint" if rest.is_empty() => lint::run(),
        "lint" => {
            return usage::error(&format!(
                "`lint` takes no arguments, got: {}",
                rest.join(" ")
            ));
        }
        "version" | "-V" | "--version" => {
            println!("xtask {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "help" | "-h" | "--help" => {
            println!("{}", usage::USAGE);
            return ExitCode::SUCCESS;
        }
        dev if DEV_COMMANDS.contains(&dev) => handoff::dev(&args),
        other => return usage::error(&format!("unknown command `{other}`")),
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}
