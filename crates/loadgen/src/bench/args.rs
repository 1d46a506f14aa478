//! The command lines of `loadgen bench fanout|logs|feed`, with their defaults and limits.

use clap::{Args, Subcommand};

/// A benchmark and its options.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Bench {
    /// Timeline writes/s of the fan-out next to raw pipelined ZADD into the same cluster.
    Fanout(FanoutBench),
    /// Log records/s of log-ingest-service next to raw COPY and multi-row INSERT into the same
    /// PostgreSQL, in a fresh database dropped afterwards.
    Logs(LogsBench),
    /// GetFeed reads/s and latency of feed-read-service next to raw ZREVRANGE + pipelined GET.
    Feed(FeedBench),
}

/// Options of `bench fanout`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct FanoutBench {
    /// Followers of the one author.
    #[arg(long, default_value_t = 500, value_parser = at_least_one)]
    pub followers: usize,
    /// Concurrent CreatePost clients (closed loop, no think time).
    #[arg(long, default_value_t = 64, value_parser = at_least_one)]
    pub clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 20, value_parser = at_least_one_u64)]
    pub duration: u64,
    /// Replicas per master of the 3-master cluster.
    #[arg(long, default_value_t = 0)]
    pub replicas: usize,
    /// fanout-service's FEEDLINE_FANOUT_WAIT_REPLICAS: replicas to WAIT for per event (0: off).
    #[arg(long, default_value_t = 0)]
    pub wait_replicas: usize,
    /// fanout-service's FEEDLINE_FANOUT_WAIT_TIMEOUT_MS.
    #[arg(long, default_value_t = 100, value_parser = at_least_one_u64)]
    pub wait_timeout_ms: u64,
}

/// Options of `bench logs`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LogsBench {
    /// Closed-loop unary senders (and the pool size of the fixed-rate run).
    #[arg(long, default_value_t = 400, value_parser = at_least_one)]
    pub senders: usize,
    /// Records per Ingest call (the contract allows at most 1000).
    #[arg(long, default_value_t = 100, value_parser = records_per_call)]
    pub records: usize,
    /// Seconds of each run.
    #[arg(long, default_value_t = 15, value_parser = at_least_one_u64)]
    pub duration: u64,
    /// IngestStream clients.
    #[arg(long, default_value_t = 16, value_parser = at_least_one)]
    pub stream_clients: usize,
    /// A PostgreSQL server on which the benchmark may create and drop a database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres", value_parser = postgres_url)]
    pub database_url: String,
}

/// Options of `bench feed`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct FeedBench {
    /// Users with a timeline (each takes about 64 KiB of the cluster); reads pick one at random.
    #[arg(long, default_value_t = 1000, value_parser = users)]
    pub users: usize,
    /// Concurrent readers of the closed-loop runs (raw and service).
    #[arg(long, default_value_t = 32, value_parser = at_least_one)]
    pub clients: usize,
    /// Seconds of each run.
    #[arg(long, default_value_t = 10, value_parser = at_least_one_u64)]
    pub duration: u64,
    /// Reads per second of the fixed-rate run.
    #[arg(long, default_value_t = 5000, value_parser = at_least_one_u64)]
    pub rate: u64,
}

/// A whole number of at least 1.
fn at_least_one_u64(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number".to_owned()),
    }
}

fn at_least_one(value: &str) -> Result<usize, String> {
    at_least_one_u64(value).map(|n| n as usize)
}

fn records_per_call(value: &str) -> Result<usize, String> {
    match at_least_one(value)? {
        n if n > 1000 => Err("Ingest takes at most 1000".to_owned()),
        n => Ok(n),
    }
}

fn users(value: &str) -> Result<usize, String> {
    match at_least_one(value)? {
        n if n > 100_000 => Err("at most 100000".to_owned()),
        n => Ok(n),
    }
}

fn postgres_url(value: &str) -> Result<String, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_owned())
    } else {
        Err("not a postgres:// URL".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        bench: Bench,
    }

    fn parse(line: &str) -> Result<Bench, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(line.split_whitespace()))
            .map(|cli| cli.bench)
    }

    #[test]
    fn fanout_takes_numbers() {
        let Ok(Bench::Fanout(bench)) = parse("fanout --followers 10 --duration 3") else {
            panic!("not parsed");
        };
        assert_eq!(
            (bench.followers, bench.duration, bench.clients),
            (10, 3, 64)
        );
        assert_eq!(bench.wait_timeout_ms, 100);
        let Ok(Bench::Fanout(bench)) = parse("fanout --replicas 1 --wait-replicas 1") else {
            panic!("not parsed");
        };
        assert_eq!((bench.replicas, bench.wait_replicas), (1, 1));
        for bad in ["fanout --clients 0", "fanout --clients", "", "redis"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logs_has_defaults_and_options() {
        assert_eq!(
            parse("logs").unwrap(),
            Bench::Logs(LogsBench {
                senders: 400,
                records: 100,
                duration: 15,
                stream_clients: 16,
                database_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            })
        );
        assert_eq!(
            parse(
                "logs --senders 8 --records 1000 --duration 5 --stream-clients 2 \
                 --database-url postgres://u@db:5433/x"
            )
            .unwrap(),
            Bench::Logs(LogsBench {
                senders: 8,
                records: 1000,
                duration: 5,
                stream_clients: 2,
                database_url: "postgres://u@db:5433/x".to_owned(),
            })
        );
        for bad in [
            "logs --records 1001",
            "logs --database-url mysql://root@h/db",
            "logs --followers 3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn feed_takes_numbers() {
        assert_eq!(
            parse("feed").unwrap(),
            Bench::Feed(FeedBench {
                users: 1000,
                clients: 32,
                duration: 10,
                rate: 5000,
            })
        );
        assert_eq!(
            parse("feed --users 50 --clients 8 --duration 3 --rate 200").unwrap(),
            Bench::Feed(FeedBench {
                users: 50,
                clients: 8,
                duration: 3,
                rate: 200,
            })
        );
        for bad in [
            "feed --rate 0",
            "feed --rate fast",
            "feed --users 100001",
            "feed --duration",
            "feed --followers 10",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
