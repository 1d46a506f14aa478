//! Hand-written argument parsing: three subcommands do not need clap.

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
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn parse_bench(rest: &[String]) -> Result<Command, String> {
    let Some((what, flags)) = rest.split_first() else {
        return Err("`bench` needs a scenario: fanout".to_owned());
    };
    if what != "fanout" {
        return Err(format!("unknown benchmark `{what}` (known: fanout)"));
    }
    let mut bench = crate::bench::FanoutBench {
        followers: 500,
        clients: 64,
        duration: 20,
    };
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let value = flags
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("`{flag} {value}`: not a whole number"))?;
        if number == 0 {
            return Err(format!("`{flag}` must be at least 1"));
        }
        match flag.as_str() {
            "--followers" => bench.followers = number as usize,
            "--clients" => bench.clients = number as usize,
            "--duration" => bench.duration = number,
            other => return Err(format!("unknown option `{other}` for `bench fanout`")),
        }
    }
    Ok(Command::BenchFanout(bench))
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
}
