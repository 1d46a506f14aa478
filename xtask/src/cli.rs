//! The command line of `cargo xtask`, parsed with clap by both binaries: the front door
//! (`xtask`) runs some commands itself and hands the others, arguments untouched, to
//! `xtask-dev` or loadgen, which parse them again.

use clap::{Args, Parser, Subcommand};

/// log-ingest-service's well-known address.
pub const LOGS_ADDR: &str = "http://127.0.0.1:50054";
/// fanout-service's well-known address.
pub const FANOUT_ADDR: &str = "http://127.0.0.1:50052";
/// post-service's well-known address.
pub const POST_ADDR: &str = "http://127.0.0.1:50051";

/// The developer commands of the feedline workspace.
#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    version,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run every test (`cargo test --workspace --all-targets --features xtask/dev ARGS`).
    ///
    /// Ensures redis-server, detects PostgreSQL and MariaDB on 127.0.0.1, runs `cargo test
    /// --workspace --all-targets --features xtask/dev ARGS`, then, if it passed, `python3
    /// deploy/check.py` (compose schema, cfn-lint, ECS task shapes; reported as skipped where
    /// Python cannot run them, a failure with CI set).
    Test {
        /// Passed to `cargo test` (`-- --nocapture`, `-p post-service`, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        extra: Vec<String>,
    },
    /// Build and start a local Redis Cluster and the services until Ctrl-C.
    ///
    /// Builds the services, starts a local Redis Cluster and the services (state in
    /// .feedline/), waits for Ctrl-C, then stops everything. Options: --no-build; --perf builds and runs them with the optimised `perf` profile (for
    /// `load`); --database postgres://... or mysql://... runs post-service on the database the
    /// URL names (`feedline` if none) and log-ingest-service on `<name>_logs`, created when
    /// missing, instead of SQLite files in .feedline/; the services verify bearer tokens signed
    /// by a dev key in .feedline/auth/ (--no-auth: they trust every caller); --redis-replicas N
    /// (0, 1 or 2; default 0) gives each of the 3 masters N replicas (2 s node timeout), for
    /// `load fanout --kill-master-after`.
    #[command(disable_help_flag = true)]
    Up {
        /// [--no-build] [--perf] [--database URL] [--no-auth] [--redis-replicas N]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<String>,
    },
    /// Print a bearer token for SUBJECT (valid a day) signed by the dev key of `up`.
    ///
    /// --admin may act for any user, --service calls the internal RPCs.
    Token {
        /// Who the token is for (e.g. alice).
        subject: String,
        /// May act for any user.
        #[arg(long)]
        admin: bool,
        /// May call the internal RPCs.
        #[arg(long)]
        service: bool,
    },
    /// cargo fmt --check, cargo clippy -D warnings, buf lint.
    Lint,
    /// Benchmarks: fanout, logs or feed, each a service beside the raw store beneath it.
    ///
    /// In one run on this machine: `bench fanout` (timeline writes/s next to raw pipelined
    /// ZADD into the same cluster), `bench logs` (log records/s of log-ingest-service, unary,
    /// streaming and at a fixed 50,000 records/s, next to raw COPY and multi-row INSERT into the
    /// same PostgreSQL, in a fresh database dropped afterwards), `bench feed` (GetFeed reads/s
    /// and latency next to raw ZREVRANGE + pipelined GET of the same keys). `cargo xtask bench
    /// <name> --help` lists the options and their defaults.
    #[command(disable_help_flag = true)]
    Bench {
        /// fanout, logs or feed, then its options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// The load generator against the running stack of `up` (`load --help`: every option).
    ///
    /// Builds loadgen with the perf profile and runs a scenario against the stack of `up`:
    /// posts with fan-out lag, drain and every timeline checked (`fanout --random-followers`:
    /// random followers, full timelines, beside a raw ZADD baseline); feed reads; the 60/30/10
    /// social-network mix; log ingestion with every acknowledged record checked in the DB; a
    /// follow storm, then posts. --json FILE and --html FILE write reports.
    #[command(disable_help_flag = true)]
    Load {
        /// The scenario, then its options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Apps of log-ingest-service.
    #[command(subcommand)]
    LogsApp(LogsApp),
    /// Have a relay replay the outbox events applied in the last N minutes.
    ///
    /// Asks fanout-service, with the admin token of `up`.
    Replay {
        /// Minutes back (0: the whole retained window).
        #[arg(long, default_value_t = 0)]
        since_minutes: u32,
        /// fanout-service's address.
        #[arg(long, default_value = FANOUT_ADDR)]
        addr: String,
    },
    /// List or requeue the fan-out events post-service's relay gave up on.
    ///
    /// Requeued events go back to the end of the outbox (new event ids); through post-service,
    /// with the admin token of `up`.
    #[command(subcommand)]
    DeadLetters(DeadLetters),
    /// Seed a small world into the stack of `up` and print grpcurl calls for it.
    ///
    /// 4 users, follows, posts, a log app with records; the grpcurl calls carry its real ids,
    /// tokens and app key. Safe to run again.
    Demo,
    /// The version of xtask (also --version, -V).
    Version,
}

/// `logs-app ...`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum LogsApp {
    /// Register an app with log-ingest-service and print its key.
    Create {
        /// The app's name.
        name: String,
        /// log-ingest-service's address.
        #[arg(long, default_value = LOGS_ADDR)]
        addr: String,
        /// The service's admin token (default: $FEEDLINE_ADMIN_TOKEN).
        #[arg(long)]
        admin_token: Option<String>,
    },
}

/// `dead-letters ...`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum DeadLetters {
    /// Print every dead letter, oldest first.
    List(Addr),
    /// Move dead letters back to the end of the outbox: these event ids, or --all.
    Requeue {
        /// Event ids.
        #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = event_id)]
        ids: Vec<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        addr: Addr,
    },
}

/// post-service's address, for `dead-letters`.
#[derive(Debug, PartialEq, Eq, Args)]
pub struct Addr {
    /// post-service's address.
    #[arg(long, default_value = POST_ADDR)]
    pub addr: String,
}

fn event_id(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| "not an event id (a positive number)".to_owned())
}

/// Whether `args` (of a command that passes its arguments on) ask for its help.
pub fn asks_for_help(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--help" || arg == "-h")
}

/// Prints the long help of `command`.
pub fn print_help(command: &str) {
    use clap::CommandFactory as _;
    let mut cli = Cli::command();
    // Builds the usage lines with `cargo xtask up`, not `up`.
    cli.build();
    if let Some(command) = cli.find_subcommand_mut(command) {
        let _ = command.print_long_help();
    }
}

/// The benchmarks and the services each starts.
pub const BENCHES: [(&str, &[&str]); 3] = [
    ("fanout", &["post-service", "fanout-service"]),
    ("logs", &["log-ingest-service"]),
    ("feed", &["feed-read-service"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        let args = std::iter::once("xtask").chain(line.split_whitespace());
        Cli::try_parse_from(args).map(|cli| cli.command)
    }

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn test_passes_extra_arguments_through() {
        assert_eq!(parse("test").unwrap(), Command::Test { extra: vec![] });
        assert_eq!(
            parse("test -- -p post-service -- --nocapture").unwrap(),
            Command::Test {
                extra: words("-p post-service -- --nocapture")
            }
        );
        assert_eq!(
            parse("test -p x").unwrap(),
            Command::Test {
                extra: words("-p x")
            }
        );
    }

    #[test]
    fn up_load_and_bench_pass_their_flags_on() {
        assert_eq!(
            parse("up --perf --no-build").unwrap(),
            Command::Up {
                flags: words("--perf --no-build")
            }
        );
        assert_eq!(
            parse("load fanout --duration 20").unwrap(),
            Command::Load {
                args: words("fanout --duration 20")
            }
        );
        assert_eq!(
            parse("load --help").unwrap(),
            Command::Load {
                args: words("--help")
            }
        );
        assert_eq!(
            parse("bench feed --rate 200").unwrap(),
            Command::Bench {
                args: words("feed --rate 200")
            }
        );
        assert!(parse("load").is_err());
        assert!(parse("bench").is_err());
    }

    #[test]
    fn token_needs_one_subject() {
        assert_eq!(
            parse("token alice --admin").unwrap(),
            Command::Token {
                subject: "alice".into(),
                admin: true,
                service: false,
            }
        );
        for bad in [
            "token",
            "token a b",
            "token a --admin --admin",
            "token a --root",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_commands_are_errors() {
        for bad in ["", "deploy", "lint now", "demo --big"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("demo").unwrap(), Command::Demo);
        assert_eq!(parse("version").unwrap(), Command::Version);
        let version = parse("--version").unwrap_err();
        assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(
            parse("-V").unwrap_err().kind(),
            clap::error::ErrorKind::DisplayVersion
        );
        assert_eq!(
            parse("--help").unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
    }

    #[test]
    fn logs_app_create_needs_a_name() {
        assert_eq!(
            parse("logs-app create demo").unwrap(),
            Command::LogsApp(LogsApp::Create {
                name: "demo".to_owned(),
                addr: LOGS_ADDR.to_owned(),
                admin_token: None,
            })
        );
        assert_eq!(
            parse("logs-app create shop --addr http://10.0.0.2:50054 --admin-token s3cret")
                .unwrap(),
            Command::LogsApp(LogsApp::Create {
                name: "shop".to_owned(),
                addr: "http://10.0.0.2:50054".to_owned(),
                admin_token: Some("s3cret".to_owned()),
            })
        );
        for bad in [
            "logs-app",
            "logs-app create",
            "logs-app create --addr http://x:1",
            "logs-app delete demo",
            "logs-app create demo --token x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replay_has_defaults() {
        assert_eq!(
            parse("replay").unwrap(),
            Command::Replay {
                since_minutes: 0,
                addr: FANOUT_ADDR.to_owned()
            }
        );
        assert!(parse("replay --since-minutes x").is_err());
    }

    #[test]
    fn dead_letters_lists_and_requeues_by_id_or_all() {
        let post = || Addr {
            addr: POST_ADDR.to_owned(),
        };
        assert_eq!(
            parse("dead-letters list").unwrap(),
            Command::DeadLetters(DeadLetters::List(post()))
        );
        assert_eq!(
            parse("dead-letters requeue 7 9 --addr http://x:1").unwrap(),
            Command::DeadLetters(DeadLetters::Requeue {
                ids: vec![7, 9],
                all: false,
                addr: Addr {
                    addr: "http://x:1".to_owned()
                },
            })
        );
        assert_eq!(
            parse("dead-letters requeue --all").unwrap(),
            Command::DeadLetters(DeadLetters::Requeue {
                ids: vec![],
                all: true,
                addr: post(),
            })
        );
        for bad in [
            "dead-letters",
            "dead-letters requeue",
            "dead-letters requeue 3 --all",
            "dead-letters requeue -3",
            "dead-letters requeue 0",
            "dead-letters list 3",
            "dead-letters purge",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_bench_has_its_services() {
        let names: Vec<&str> = BENCHES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["fanout", "logs", "feed"]);
    }
}
