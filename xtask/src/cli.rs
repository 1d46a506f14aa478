//! Hand-written argument parsing: a handful of subcommands do not need clap.

/// Printed for `help` and, on stderr, for a bad command line (exit code 2).
pub const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [-- ARGS]   ensure redis-server, detect PostgreSQL and MariaDB on 127.0.0.1, then run
                   `cargo test --workspace --all-targets ARGS`
  up [--no-build]  build the services, start a local Redis Cluster and the services
                   (state in .feedline/), wait for Ctrl-C, then stop everything
  lint             cargo fmt --check, cargo clippy -D warnings, buf lint
  bench fanout [--followers N] [--clients N] [--duration SECONDS]
                   timeline writes/s of the fan-out next to raw pipelined ZADD into the same
                   cluster, in one run (defaults: 500 followers, 64 clients, 20 s)
  bench logs [--senders N] [--records N] [--duration SECONDS] [--stream-clients N]
             [--database-url URL]
                   log records/s of log-ingest-service (unary, streaming, and latency at a fixed
                   50,000 records/s) next to raw COPY and multi-row INSERT into the same
                   PostgreSQL, in one run, in a fresh database it drops afterwards (defaults:
                   400 senders, 100 records per call, 15 s, 16 stream clients,
                   postgres://postgres@127.0.0.1:5432/postgres)
  logs-app create NAME [--addr URL] [--admin-token TOKEN]
                   register an app with log-ingest-service and print its key (defaults:
                   http://127.0.0.1:50054, the token from $FEEDLINE_ADMIN_TOKEN)
  help             this text";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `test`, with the arguments appended to `cargo test`.
    Test { extra: Vec<String> },
    /// `up`; `build` is false with `--no-build`.
    Up { build: bool },
    /// `lint`.
    Lint,
    /// `bench fanout ...`.
    BenchFanout(crate::bench::FanoutBench),
    /// `bench logs ...`.
    BenchLogs(crate::bench::LogsBench),
    /// `logs-app create NAME ...`.
    LogsAppCreate {
        name: String,
        /// `--addr`, `http://127.0.0.1:50054` by default.
        addr: String,
        /// `--admin-token`; None falls back to `$FEEDLINE_ADMIN_TOKEN` when run.
        admin_token: Option<String>,
    },
    /// `help`, `-h` or `--help`.
    Help,
}

/// Parses the arguments after `xtask`; the error says what is wrong with them.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("no command given".to_owned());
    };
    match command.as_str() {
        "test" => {
            // `cargo xtask test -- --nocapture` and `cargo xtask test -p x` both pass through.
            let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
            Ok(Command::Test {
                extra: rest.to_vec(),
            })
        }
        "up" => match rest {
            [] => Ok(Command::Up { build: true }),
            [flag] if flag == "--no-build" => Ok(Command::Up { build: false }),
            _ => Err(format!("unexpected arguments to `up`: {}", rest.join(" "))),
        },
        "lint" if rest.is_empty() => Ok(Command::Lint),
        "lint" => Err(format!(
            "`lint` takes no arguments, got: {}",
            rest.join(" ")
        )),
        "bench" => parse_bench(rest),
        "logs-app" => parse_logs_app(rest),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn parse_bench(rest: &[String]) -> Result<Command, String> {
    match rest.split_first() {
        Some((what, flags)) if what == "fanout" => parse_bench_fanout(flags),
        Some((what, flags)) if what == "logs" => parse_bench_logs(flags),
        Some((what, _)) => Err(format!("unknown benchmark `{what}` (known: fanout, logs)")),
        None => Err("`bench` needs a scenario: fanout or logs".to_owned()),
    }
}

fn parse_bench_fanout(flags: &[String]) -> Result<Command, String> {
    let mut bench = crate::bench::FanoutBench {
        followers: 500,
        clients: 64,
        duration: 20,
    };
    for (flag, value) in flag_pairs(flags)? {
        let number = count(flag, value)?;
        match flag {
            "--followers" => bench.followers = number as usize,
            "--clients" => bench.clients = number as usize,
            "--duration" => bench.duration = number,
            other => return Err(format!("unknown option `{other}` for `bench fanout`")),
        }
    }
    Ok(Command::BenchFanout(bench))
}

fn parse_bench_logs(flags: &[String]) -> Result<Command, String> {
    let mut bench = crate::bench::LogsBench::default();
    for (flag, value) in flag_pairs(flags)? {
        match flag {
            "--senders" => bench.senders = count(flag, value)? as usize,
            "--records" => {
                bench.records = count(flag, value)? as usize;
                // The contract's limit per Ingest call.
                if bench.records > 1000 {
                    return Err(format!("`--records {value}`: Ingest takes at most 1000"));
                }
            }
            "--duration" => bench.duration = count(flag, value)?,
            "--stream-clients" => bench.stream_clients = count(flag, value)? as usize,
            "--database-url" => {
                if !value.starts_with("postgres://") && !value.starts_with("postgresql://") {
                    return Err(format!("`--database-url {value}`: not a postgres:// URL"));
                }
                bench.database_url = value.to_owned();
            }
            other => return Err(format!("unknown option `{other}` for `bench logs`")),
        }
    }
    Ok(Command::BenchLogs(bench))
}

fn parse_logs_app(rest: &[String]) -> Result<Command, String> {
    let usage = "`logs-app` takes: create NAME [--addr URL] [--admin-token TOKEN]";
    let Some((action, rest)) = rest.split_first() else {
        return Err(usage.to_owned());
    };
    let (Some(name), "create") = (rest.first(), action.as_str()) else {
        return Err(usage.to_owned());
    };
    if name.starts_with("--") {
        return Err(format!("`logs-app create` needs a NAME before `{name}`"));
    }
    let mut addr = crate::logs_app::DEFAULT_ADDR.to_owned();
    let mut admin_token = None;
    for (flag, value) in flag_pairs(&rest[1..])? {
        match flag {
            "--addr" => addr = value.to_owned(),
            "--admin-token" => admin_token = Some(value.to_owned()),
            other => return Err(format!("unknown option `{other}` for `logs-app create`")),
        }
    }
    Ok(Command::LogsAppCreate {
        name: name.clone(),
        addr,
        admin_token,
    })
}

/// `--flag value` pairs; every option of every command takes a value.
fn flag_pairs(flags: &[String]) -> Result<Vec<(&str, &str)>, String> {
    flags
        .chunks(2)
        .map(|pair| match pair {
            [flag, value] => Ok((flag.as_str(), value.as_str())),
            [flag] => Err(format!("`{flag}` needs a value")),
            _ => Err("no options given".to_owned()),
        })
        .collect()
}

/// A whole number of at least 1.
fn count(flag: &str, value: &str) -> Result<u64, String> {
    let number: u64 = value
        .parse()
        .map_err(|_| format!("`{flag} {value}`: not a whole number"))?;
    if number == 0 {
        return Err(format!("`{flag}` must be at least 1"));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn test_passes_extra_arguments_through() {
        assert_eq!(parse(&args("test")), Ok(Command::Test { extra: vec![] }));
        assert_eq!(
            parse(&args("test -- -p post-service -- --nocapture")),
            Ok(Command::Test {
                extra: args("-p post-service -- --nocapture")
            })
        );
    }

    #[test]
    fn up_knows_no_build() {
        assert_eq!(parse(&args("up")), Ok(Command::Up { build: true }));
        assert_eq!(
            parse(&args("up --no-build")),
            Ok(Command::Up { build: false })
        );
        assert!(parse(&args("up --fast")).is_err());
    }

    #[test]
    fn bad_commands_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&args("deploy")).is_err());
        assert!(parse(&args("lint now")).is_err());
        assert_eq!(parse(&args("--help")), Ok(Command::Help));
    }

    #[test]
    fn bench_fanout_takes_numbers() {
        assert_eq!(
            parse(&args("bench fanout --followers 10 --duration 3")),
            Ok(Command::BenchFanout(crate::bench::FanoutBench {
                followers: 10,
                clients: 64,
                duration: 3,
            }))
        );
        assert!(parse(&args("bench fanout --clients 0")).is_err());
        assert!(parse(&args("bench fanout --clients")).is_err());
        assert!(parse(&args("bench")).is_err());
        assert!(parse(&args("bench redis")).is_err());
    }

    #[test]
    fn bench_logs_has_defaults_and_options() {
        let defaults = crate::bench::LogsBench::default();
        assert_eq!(defaults.senders, 400);
        assert_eq!(defaults.records, 100);
        assert_eq!(defaults.duration, 15);
        assert_eq!(defaults.stream_clients, 16);
        assert_eq!(
            defaults.database_url,
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            parse(&args("bench logs")),
            Ok(Command::BenchLogs(defaults.clone()))
        );
        assert_eq!(
            parse(&args(
                "bench logs --senders 8 --records 1000 --duration 5 --stream-clients 2 \
                 --database-url postgres://u@db:5433/x"
            )),
            Ok(Command::BenchLogs(crate::bench::LogsBench {
                senders: 8,
                records: 1000,
                duration: 5,
                stream_clients: 2,
                database_url: "postgres://u@db:5433/x".to_owned(),
            }))
        );
        assert!(parse(&args("bench logs --records 1001")).is_err());
        assert!(parse(&args("bench logs --database-url mysql://root@h/db")).is_err());
        assert!(parse(&args("bench logs --followers 3")).is_err());
    }

    #[test]
    fn logs_app_create_needs_a_name() {
        assert_eq!(
            parse(&args("logs-app create demo")),
            Ok(Command::LogsAppCreate {
                name: "demo".to_owned(),
                addr: "http://127.0.0.1:50054".to_owned(),
                admin_token: None,
            })
        );
        assert_eq!(
            parse(&args(
                "logs-app create shop --addr http://10.0.0.2:50054 --admin-token s3cret"
            )),
            Ok(Command::LogsAppCreate {
                name: "shop".to_owned(),
                addr: "http://10.0.0.2:50054".to_owned(),
                admin_token: Some("s3cret".to_owned()),
            })
        );
        assert!(parse(&args("logs-app")).is_err());
        assert!(parse(&args("logs-app create")).is_err());
        assert!(parse(&args("logs-app create --addr http://x:1")).is_err());
        assert!(parse(&args("logs-app delete demo")).is_err());
        assert!(parse(&args("logs-app create demo --token x")).is_err());
    }
}
