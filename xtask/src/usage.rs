//! The text of `cargo xtask help` and the bad-command-line report, shared by the front door
//! (`xtask`) and `xtask-dev`.

use std::process::ExitCode;

/// Printed for `help` and, on stderr, for a bad command line (exit code 2).
pub const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [-- ARGS]   ensure redis-server, detect PostgreSQL and MariaDB on 127.0.0.1, run
                   `cargo test --workspace --all-targets --features xtask/dev ARGS`, then,
                   if it passed, `python3 deploy/check.py` (compose schema, cfn-lint, ECS
                   task shapes; reported as skipped where Python cannot run them, a failure
                   with CI set)
  up [--no-build] [--perf] [--database URL] [--no-auth] [--redis-replicas N]
                   build the services, start a local Redis Cluster and the services
                   (state in .feedline/), wait for Ctrl-C, then stop everything;
                   --redis-replicas N (0, 1 or 2; default 0) gives each of the 3 masters N
                   replicas (2 s node timeout), for `load fanout --kill-master-after`; --perf
                   builds and runs them with the optimised `perf` profile (for `load`);
                   --database postgres://... or mysql://... runs post-service on the database
                   the URL names (`feedline` if none) and log-ingest-service on `<name>_logs`,
                   created when missing, instead of SQLite files in .feedline/; the
                   services verify bearer tokens signed by a dev key in .feedline/auth/
                   (--no-auth: they trust every caller)
  token SUBJECT [--admin] [--service]
                   print a bearer token for SUBJECT (valid a day) signed by that dev key;
                   --admin may act for any user, --service calls the internal RPCs
  lint             cargo fmt --check, cargo clippy -D warnings, buf lint
  bench fanout [--followers N] [--clients N] [--duration SECONDS] [--replicas N]
               [--wait-replicas N] [--wait-timeout-ms MS]
                   timeline writes/s of the fan-out next to raw pipelined ZADD into the same
                   cluster, in one run (defaults: 500 followers, 64 clients, 20 s, 3 masters
                   without replicas, no WAIT; --wait-replicas sets FEEDLINE_FANOUT_WAIT_REPLICAS)
  bench logs [--senders N] [--records N] [--duration SECONDS] [--stream-clients N]
             [--database-url URL]
                   log records/s of log-ingest-service (unary, streaming, and latency at a fixed
                   50,000 records/s) next to raw COPY and multi-row INSERT into the same
                   PostgreSQL, in one run, in a fresh database it drops afterwards (defaults:
                   400 senders, 100 records per call, 15 s, 16 stream clients,
                   postgres://postgres@127.0.0.1:5432/postgres)
  bench feed [--users N] [--clients N] [--duration SECONDS] [--rate R]
                   GetFeed reads/s and latency of feed-read-service (20-item pages, closed loop
                   and a fixed R reads/s) next to raw ZREVRANGE + pipelined GET of the same keys
                   in the same cluster, in one run (defaults: 1000 users, 32 clients, 10 s per
                   run, 5000 reads/s)
  load <fanout|read|mixed|logs|follow-storm> [options]
                   the load generator (built with the perf profile) against the running stack
                   of `cargo xtask up`: posts with fan-out lag, drain and every timeline
                   checked (`fanout --random-followers`: random followers, full timelines,
                   beside a raw ZADD baseline); feed reads; the 60/30/10 social-network mix;
                   log ingestion with every acknowledged record checked in the DB; a follow
                   storm, then posts. --json FILE and --html FILE write reports;
                   `cargo xtask load --help` lists every option
  logs-app create NAME [--addr URL] [--admin-token TOKEN]
                   register an app with log-ingest-service and print its key (defaults:
                   http://127.0.0.1:50054, the token from $FEEDLINE_ADMIN_TOKEN)
  replay [--since-minutes N] [--addr URL]
                   ask fanout-service (default http://127.0.0.1:50052) to have a relay replay
                   the outbox events applied in the last N minutes (default 0: the whole
                   retained window), with the admin token of `up`
  dead-letters list [--addr URL]
  dead-letters requeue ID.. [--addr URL]
  dead-letters requeue --all [--addr URL]
                   list the fan-out events post-service's relay gave up on, or move them back
                   to the end of the outbox (new event ids), through post-service (default
                   http://127.0.0.1:50051) with the admin token of `up`
  demo             seed a small world into the running stack of `up` (4 users, follows,
                   posts, a log app with records) and print grpcurl calls with its real
                   ids, tokens and app key; safe to run again
  version          the version of xtask (also --version, -V)
  help             this text (also --help, -h)";

/// Reports a bad command line with the usage, on stderr; exit code 2.
pub fn error(problem: &str) -> ExitCode {
    eprintln!("xtask: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
