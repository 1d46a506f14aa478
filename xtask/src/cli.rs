//! Hand-written argument parsing: a handful of subcommands do not need clap.

pub use crate::usage::USAGE;

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `test`, with the arguments appended to `cargo test`.
    Test { extra: Vec<String> },
    /// `up`; `build` is false with `--no-build`, `perf` true with `--perf`, `database` the
    /// server URL of `--database` (None: SQLite files).
    Up {
        build: bool,
        perf: bool,
        database: Option<String>,
        /// False with `--no-auth`.
        auth: bool,
        /// `--redis-replicas N`: replicas per master of the local cluster (0 to 2).
        redis_replicas: usize,
    },
    /// `token SUBJECT [--admin] [--service]`.
    Token {
        subject: String,
        admin: bool,
        service: bool,
    },
    /// `lint`.
    Lint,
    /// `bench fanout ...`.
    BenchFanout(crate::bench::FanoutBench),
    /// `bench logs ...`.
    BenchLogs(crate::bench::LogsBench),
    /// `bench feed ...`.
    BenchFeed(crate::bench::FeedBench),
    /// `load <scenario> ...`: the arguments after `load`, checked, passed to loadgen.
    Load { args: Vec<String> },
    /// `logs-app create NAME ...`.
    LogsAppCreate {
        name: String,
        /// `--addr`, `http://127.0.0.1:50054` by default.
        addr: String,
        /// `--admin-token`; None falls back to `$FEEDLINE_ADMIN_TOKEN` when run.
        admin_token: Option<String>,
    },
    /// `replay [--since-minutes N] [--addr URL]`.
    Replay { addr: String, since_minutes: u32 },
    /// `dead-letters list|requeue ID..|requeue --all [--addr URL]`.
    DeadLetters {
        /// `--addr`, post-service's `http://127.0.0.1:50051` by default.
        addr: String,
        /// What to do.
        action: crate::dead_letters::Action,
    },
    /// `demo`.
    Demo,
    /// `version`, `-V` or `--version`.
    Version,
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
        "up" => parse_up(rest),
        "token" => parse_token(rest),
        "lint" if rest.is_empty() => Ok(Command::Lint),
        "lint" => Err(format!(
            "`lint` takes no arguments, got: {}",
            rest.join(" ")
        )),
        "bench" => parse_bench(rest),
        "load" => parse_load(rest),
        "logs-app" => parse_logs_app(rest),
        "replay" => parse_replay(rest),
        "dead-letters" => parse_dead_letters(rest),
        "demo" if rest.is_empty() => Ok(Command::Demo),
        "demo" => Err(format!(
            "`demo` takes no arguments, got: {}",
            rest.join(" ")
        )),
        "version" | "-V" | "--version" => Ok(Command::Version),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn parse_up(rest: &[String]) -> Result<Command, String> {
    let flags = crate::up_flags::UpFlags::parse(rest)?;
    Ok(Command::Up {
        build: flags.build,
        perf: flags.perf,
        database: flags.database,
        auth: flags.auth,
        redis_replicas: flags.redis_replicas,
    })
}

fn parse_token(rest: &[String]) -> Result<Command, String> {
    let (mut subject, mut admin, mut service) = (None, false, false);
    for arg in rest {
        match arg.as_str() {
            "--admin" if !admin => admin = true,
            "--service" if !service => service = true,
            flag if flag.starts_with('-') => {
                return Err(format!("unexpected argument to `token`: {flag}"));
            }
            _ if subject.is_none() => subject = Some(arg.clone()),
            extra => return Err(format!("`token` takes one subject, got another: {extra}")),
        }
    }
    Ok(Command::Token {
        subject: subject.ok_or_else(|| "`token` needs a SUBJECT (e.g. alice)".to_owned())?,
        admin,
        service,
    })
}

fn parse_bench(rest: &[String]) -> Result<Command, String> {
    match rest.split_first() {
        Some((what, flags)) if what == "fanout" => parse_bench_fanout(flags),
        Some((what, flags)) if what == "logs" => parse_bench_logs(flags),
        Some((what, flags)) if what == "feed" => parse_bench_feed(flags),
        Some((what, _)) => Err(format!(
            "unknown benchmark `{what}` (known: fanout, logs, feed)"
        )),
        None => Err("`bench` needs a scenario: fanout, logs or feed".to_owned()),
    }
}

fn parse_bench_fanout(flags: &[String]) -> Result<Command, String> {
    let mut bench = crate::bench::FanoutBench::default();
    for (flag, value) in flag_pairs(flags)? {
        let number = count(flag, value)?;
        match flag {
            "--followers" => bench.followers = number as usize,
            "--clients" => bench.clients = number as usize,
            "--duration" => bench.duration = number,
            "--replicas" => bench.replicas = number as usize,
            "--wait-replicas" => bench.wait_replicas = number as usize,
            "--wait-timeout-ms" => bench.wait_timeout_ms = number,
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

fn parse_bench_feed(flags: &[String]) -> Result<Command, String> {
    let mut bench = crate::bench::FeedBench::default();
    for (flag, value) in flag_pairs(flags)? {
        let number = count(flag, value)?;
        match flag {
            "--users" => {
                // Each user's timeline takes about 64 KiB of the cluster's memory.
                if number > 100_000 {
                    return Err(format!("`--users {value}`: at most 100000"));
                }
                bench.users = number as usize;
            }
            "--clients" => bench.clients = number as usize,
            "--duration" => bench.duration = number,
            "--rate" => bench.rate = number,
            other => return Err(format!("unknown option `{other}` for `bench feed`")),
        }
    }
    Ok(Command::BenchFeed(bench))
}

/// Checked with loadgen's own parser, so a bad option fails before the build.
fn parse_load(rest: &[String]) -> Result<Command, String> {
    feedline_loadgen::cli::parse(rest).map_err(|error| format!("load: {error}"))?;
    Ok(Command::Load {
        args: rest.to_vec(),
    })
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

fn parse_replay(rest: &[String]) -> Result<Command, String> {
    let mut addr = crate::replay::DEFAULT_ADDR.to_owned();
    let mut since_minutes = 0;
    if !rest.is_empty() {
        for (flag, value) in flag_pairs(rest)? {
            match flag {
                "--addr" => addr = value.to_owned(),
                "--since-minutes" => {
                    since_minutes = value
                        .parse()
                        .map_err(|_| format!("`{flag} {value}`: not a whole number"))?;
                }
                other => return Err(format!("unknown option `{other}` for `replay`")),
            }
        }
    }
    Ok(Command::Replay {
        addr,
        since_minutes,
    })
}

fn parse_dead_letters(rest: &[String]) -> Result<Command, String> {
    use crate::dead_letters::Action;
    let mut addr = crate::dead_letters::DEFAULT_ADDR.to_owned();
    let (mut ids, mut all) = (Vec::new(), false);
    let Some((verb, rest)) = rest.split_first() else {
        return Err("`dead-letters` needs `list` or `requeue`".to_owned());
    };
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .ok_or_else(|| "`--addr` needs a value".to_owned())?
                    .clone();
            }
            "--all" => all = true,
            id => ids.push(
                id.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| format!("`{id}`: not an event id (a positive number)"))?,
            ),
        }
    }
    let action = match (verb.as_str(), all, ids.is_empty()) {
        ("list", false, true) => Action::List,
        ("list", ..) => return Err("`dead-letters list` takes only --addr".to_owned()),
        ("requeue", true, true) => Action::RequeueAll,
        ("requeue", false, false) => Action::Requeue(ids),
        ("requeue", ..) => {
            return Err("`dead-letters requeue` takes event ids or --all, not both".to_owned());
        }
        (other, ..) => return Err(format!("unknown `dead-letters` action `{other}`")),
    };
    Ok(Command::DeadLetters { addr, action })
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
        assert_eq!(
            parse(&args("up")),
            Ok(Command::Up {
                build: true,
                perf: false,
                database: None,
                auth: true,
                redis_replicas: 0,
            })
        );
        assert_eq!(
            parse(&args("up --no-build")),
            Ok(Command::Up {
                build: false,
                perf: false,
                database: None,
                auth: true,
                redis_replicas: 0,
            })
        );
        assert_eq!(
            parse(&args("up --perf --no-build")),
            Ok(Command::Up {
                build: false,
                perf: true,
                database: None,
                auth: true,
                redis_replicas: 0,
            })
        );
        assert_eq!(
            parse(&args(
                "up --database postgres://postgres@127.0.0.1:5432 --perf"
            )),
            Ok(Command::Up {
                build: true,
                perf: true,
                database: Some("postgres://postgres@127.0.0.1:5432".to_owned()),
                auth: true,
                redis_replicas: 0,
            })
        );
        assert_eq!(
            parse(&args("up --no-auth")),
            Ok(Command::Up {
                build: true,
                perf: false,
                database: None,
                auth: false,
                redis_replicas: 0,
            })
        );
        assert_eq!(
            parse(&args("token alice --admin")),
            Ok(Command::Token {
                subject: "alice".into(),
                admin: true,
                service: false,
            })
        );
        assert_eq!(
            parse(&args("up --perf --no-build --redis-replicas 1")),
            Ok(Command::Up {
                build: false,
                perf: true,
                database: None,
                auth: true,
                redis_replicas: 1,
            })
        );
        assert!(parse(&args("up --redis-replicas 3")).is_err());
        assert!(parse(&args("up --redis-replicas one")).is_err());
        assert!(parse(&args("up --redis-replicas")).is_err());
        assert!(parse(&args("up --redis-replicas 1 --redis-replicas 2")).is_err());
        assert!(parse(&args("token")).is_err());
        assert!(parse(&args("token a b")).is_err());
        assert!(parse(&args("up --fast")).is_err());
        assert!(parse(&args("up --perf --perf")).is_err());
        assert!(parse(&args("up --database")).is_err());
        assert!(parse(&args("up --database sqlite://x.db")).is_err());
        assert!(
            parse(&args(
                "up --database mysql://r@h/a --database mysql://r@h/b"
            ))
            .is_err()
        );
    }

    #[test]
    fn bad_commands_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&args("deploy")).is_err());
        assert!(parse(&args("lint now")).is_err());
        assert_eq!(parse(&args("--help")), Ok(Command::Help));
        assert_eq!(parse(&args("--version")), Ok(Command::Version));
        assert_eq!(parse(&args("-V")), Ok(Command::Version));
        assert_eq!(parse(&args("demo")), Ok(Command::Demo));
        assert!(parse(&args("demo --big")).is_err());
    }

    #[test]
    fn bench_fanout_takes_numbers() {
        assert_eq!(
            parse(&args("bench fanout --followers 10 --duration 3")),
            Ok(Command::BenchFanout(crate::bench::FanoutBench {
                followers: 10,
                duration: 3,
                ..Default::default()
            }))
        );
        let replicated = parse(&args("bench fanout --replicas 1 --wait-replicas 1"));
        let Ok(Command::BenchFanout(replicated)) = replicated else {
            panic!("{replicated:?}");
        };
        assert_eq!((replicated.replicas, replicated.wait_replicas), (1, 1));
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
    fn bench_feed_takes_numbers() {
        assert_eq!(
            parse(&args("bench feed")),
            Ok(Command::BenchFeed(crate::bench::FeedBench {
                users: 1000,
                clients: 32,
                duration: 10,
                rate: 5000,
            }))
        );
        assert_eq!(
            parse(&args(
                "bench feed --users 50 --clients 8 --duration 3 --rate 200"
            )),
            Ok(Command::BenchFeed(crate::bench::FeedBench {
                users: 50,
                clients: 8,
                duration: 3,
                rate: 200,
            }))
        );
        assert!(parse(&args("bench feed --rate 0")).is_err());
        assert!(parse(&args("bench feed --rate fast")).is_err());
        assert!(parse(&args("bench feed --users 100001")).is_err());
        assert!(parse(&args("bench feed --duration")).is_err());
        assert!(parse(&args("bench feed --followers 10")).is_err());
    }

    #[test]
    fn load_checks_its_arguments_and_passes_them_on() {
        assert_eq!(
            parse(&args("load fanout --duration 20")),
            Ok(Command::Load {
                args: args("fanout --duration 20")
            })
        );
        assert_eq!(
            parse(&args("load --help")),
            Ok(Command::Load {
                args: args("--help")
            })
        );
        assert!(parse(&args("load")).is_err());
        assert!(parse(&args("load storm")).is_err());
        assert!(parse(&args("load follow-storm --follows 10 --clients 2")).is_ok());
        assert!(
            parse(&args(
                "load fanout --random-followers --users 50 --authors 2 --followers 5"
            ))
            .is_ok()
        );
        assert!(parse(&args("load fanout --vus x")).is_err());
        assert!(parse(&args("load logs --graph")).is_err());
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

    #[test]
    fn dead_letters_lists_and_requeues_by_id_or_all() {
        use crate::dead_letters::Action;
        let post = crate::dead_letters::DEFAULT_ADDR.to_owned();
        assert_eq!(
            parse(&args("dead-letters list")),
            Ok(Command::DeadLetters {
                addr: post.clone(),
                action: Action::List,
            })
        );
        assert_eq!(
            parse(&args("dead-letters requeue 7 9 --addr http://x:1")),
            Ok(Command::DeadLetters {
                addr: "http://x:1".to_owned(),
                action: Action::Requeue(vec![7, 9]),
            })
        );
        assert_eq!(
            parse(&args("dead-letters requeue --all")),
            Ok(Command::DeadLetters {
                addr: post,
                action: Action::RequeueAll,
            })
        );
        assert!(parse(&args("dead-letters")).is_err());
        assert!(parse(&args("dead-letters requeue")).is_err());
        assert!(parse(&args("dead-letters requeue 3 --all")).is_err());
        assert!(parse(&args("dead-letters requeue -3")).is_err());
        assert!(parse(&args("dead-letters list 3")).is_err());
        assert!(parse(&args("dead-letters purge")).is_err());
    }
}
