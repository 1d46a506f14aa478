//! The command line: `loadgen <scenario> [options]` into [`Options`], every mistake a
//! [`UsageError`] (exit code 2) that names the offending argument.

use std::path::PathBuf;
use std::time::Duration;

use crate::options::{Load, Options, Scenario, ScenarioKind, Shape, TimelineSettings};
use crate::social::Plan;

/// Printed for `--help` and pointed to by usage errors.
pub const USAGE: &str = "\
usage: loadgen <scenario> [options]      (or: cargo xtask load <scenario> [options])
       loadgen dev-keys DIR              a dev signing key, its jwks.json, service.token and
                                         admin.token in DIR (docker-compose.yml's auth-init)
       loadgen --version                 the version

scenarios:
  fanout   F followers following A authors (or --graph: a power-law social graph); V virtual
           users post as those authors; measures fan-out lag of sampled posts, the drain after
           the load, and checks every acknowledged post is in every follower's timeline
             --followers N (500)  --authors N (10)  --vus N (500)  --duration S (60)  --rate R
             --graph  --users N (2000, with --graph)  --seed N (1, with --graph)
             --celebrity-threshold N (10000)  --timeline-cap N (800)  --sample-every N (50)
           --random-followers: A authors (400) each followed by F users (500) drawn at random
           (--seed) among U (--users 20000); the follows are applied before the load, every
           timeline is filled to the cap, posts come from random authors; after the load, the
           same timeline writes as raw pipelined ZADDs per master, and the ratio
           --kill-master-after S: S seconds into the load, crash the Redis master holding the
           most follower timelines (SHUTDOWN NOW NOSAVE FORCE on a direct connection; refused
           unless every master has a replica: `cargo xtask up --redis-replicas 1`; managed
           services such as ElastiCache refuse SHUTDOWN: use their failover test API). Reports
           the recovery: with t the acknowledgement of the first sampled post from which on
           every sampled post reached all its timelines within 1 s, recovery = t - kill (none
           if the run ends first); and lag p99 and max of the posts acknowledged in [kill, t]
  follow-storm
           --follows N follows of A authors by users drawn at random among U, sent by --clients
           callers as fast as post-service takes them; counts the follows fan-out applies (in
           the follower indexes) while posts of random authors arrive at --rate; then checks
           every follower indexed and every post in every timeline
             --follows N (200000)  --users N (20000)  --authors N (400)  --seed N (1)
             --clients N (64)  --rate R (500)  --duration S (30)  --vus N (500)
             --celebrity-threshold N  --timeline-cap N  --sample-every N (50)
  read     GetFeed (20 items) of random users, after their timelines are filled
             --users N (1000)  --authors N (10)  --posts N (80 per author)  --vus N (64)
             --duration S (60)  --rate R
  mixed    60% GetFeed, 30% ListAuthorPosts, 10% CreatePost (DeathStarBench's social network);
           then the same fan-out checks as fanout
             read's options and --celebrity-threshold N  --timeline-cap N  --sample-every N (10)
  logs     S senders x R calls x B records, unary Ingest or --stream; then every acknowledged
           record is looked up with QueryLogs: missing and duplicate records are counted
             --senders N (400)  --calls N (100)  --records N (100, at most 1000)  --stream
             --in-flight N (8 batches per stream)  --admin-token T ($FEEDLINE_ADMIN_TOKEN)

every scenario:
  --post-addr A (127.0.0.1:50051)  --fanout-addr A (127.0.0.1:50052)
  --feed-addr A (127.0.0.1:50053)  --logs-addr A (127.0.0.1:50054)
  --redis-url URL (the cluster of `cargo xtask up`)  --connections N (8 per service)
  --token T (the bearer token calls carry: an admin's; default $FEEDLINE_TOKEN, else the
             admin token `cargo xtask up` wrote to .feedline/auth/admin.token)
  --json FILE (figures under stable keys)  --html FILE (self-contained report with charts)

--rate R is an open loop at R requests/s (--vus then caps the requests in flight), latency
counted from each request's intended start; without it, a closed loop with no think time.
--celebrity-threshold and --timeline-cap must match the services' FEEDLINE_CELEBRITY_THRESHOLD
and FEEDLINE_TIMELINE_CAP. Exit codes: 0 done, 1 failure or data missing, 2 bad usage.";

/// A bad command line; the message names the argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Run(Box<Options>),
    Help,
}

/// Options every scenario takes.
const COMMON: &[&str] = &[
    "--post-addr",
    "--fanout-addr",
    "--feed-addr",
    "--logs-addr",
    "--redis-url",
    "--connections",
    "--token",
    "--json",
    "--html",
];
/// Options without a value.
const SWITCHES: &[&str] = &["--graph", "--random-followers", "--stream"];

/// Options of the load: VUs, how long, and an open loop's rate.
const LOAD: &[&str] = &["--vus", "--duration", "--rate"];
/// Options of the timelines fan-out writes, and of sampling its lag.
const TIMELINES: &[&str] = &["--celebrity-threshold", "--timeline-cap", "--sample-every"];
/// Options of the world `read` and `mixed` load: readers, authors, posts each.
const FEED: &[&str] = &["--users", "--authors", "--posts"];

/// The options `kind` takes besides [`COMMON`], in groups.
fn scenario_flags(kind: ScenarioKind) -> &'static [&'static [&'static str]] {
    match kind {
        ScenarioKind::Fanout => &[
            &[
                "--followers",
                "--authors",
                "--graph",
                "--random-followers",
                "--users",
                "--seed",
                "--kill-master-after",
            ],
            LOAD,
            TIMELINES,
        ],
        ScenarioKind::FollowStorm => &[
            &["--follows", "--users", "--authors", "--seed", "--clients"],
            LOAD,
            TIMELINES,
        ],
        ScenarioKind::Read => &[FEED, LOAD],
        ScenarioKind::Mixed => &[FEED, LOAD, TIMELINES],
        ScenarioKind::Logs => &[&[
            "--senders",
            "--calls",
            "--records",
            "--stream",
            "--in-flight",
            "--admin-token",
        ]],
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, UsageError> {
    if args.iter().any(|a| a == "--help" || a == "-h") || args.first().is_some_and(|a| a == "help")
    {
        return Ok(Parsed::Help);
    }
    let Some((name, rest)) = args.split_first() else {
        return Err(usage(
            "no scenario given (fanout, read, mixed, logs or follow-storm)",
        ));
    };
    let kind = ScenarioKind::from_name(name).ok_or_else(|| {
        usage(format!(
            "unknown scenario `{name}` (known: fanout, read, mixed, logs, follow-storm)"
        ))
    })?;
    let flags = flags(kind, rest)?;
    let mut options = Options::new(kind);
    for (flag, value) in &flags {
        apply_common(&mut options, flag, value.as_deref())?;
    }
    match &mut options.scenario {
        Scenario::Fanout(fanout) => {
            apply_load(&mut fanout.load, &flags)?;
            apply_timelines(&mut fanout.timelines, &flags)?;
            fanout.sample_every = number_or(&flags, "--sample-every", fanout.sample_every, 1..)?;
            fanout.shape = fanout_shape(&flags)?;
            if let Some(text) = value(&flags, "--kill-master-after") {
                let seconds: u64 = number("--kill-master-after", text, 1..=86_400)?;
                if seconds >= fanout.load.duration.as_secs() {
                    return Err(usage(format!(
                        "`--kill-master-after {seconds}` must be less than --duration ({})",
                        fanout.load.duration.as_secs()
                    )));
                }
                fanout.kill_master_after = Some(Duration::from_secs(seconds));
            }
        }
        Scenario::Read(feed) | Scenario::Mixed(feed) => {
            apply_load(&mut feed.load, &flags)?;
            apply_timelines(&mut feed.timelines, &flags)?;
            feed.sample_every = number_or(&flags, "--sample-every", feed.sample_every, 1..)?;
            feed.users = number_or(&flags, "--users", feed.users, 1..=1_000_000)?;
            feed.authors = number_or(&flags, "--authors", feed.authors, 1..=10_000)?;
            feed.posts = number_or(&flags, "--posts", feed.posts, 1..=100_000)?;
        }
        Scenario::FollowStorm(storm) => {
            apply_load(&mut storm.load, &flags)?;
            apply_timelines(&mut storm.timelines, &flags)?;
            storm.sample_every = number_or(&flags, "--sample-every", storm.sample_every, 1..)?;
            storm.follows = number_or(&flags, "--follows", storm.follows, 1..=100_000_000)?;
            storm.users = number_or(&flags, "--users", storm.users, 2..=10_000_000)?;
            storm.authors = number_or(&flags, "--authors", storm.authors, 1..=100_000)?;
            storm.seed = number_or(&flags, "--seed", storm.seed, 0..)?;
            storm.clients = number_or(&flags, "--clients", storm.clients, 1..=100_000)?;
            Plan::check_random(storm.authors, storm.follows, storm.users).map_err(usage)?;
        }
        Scenario::Logs(logs) => {
            logs.senders = number_or(&flags, "--senders", logs.senders, 1..=100_000)?;
            logs.calls = number_or(&flags, "--calls", logs.calls, 1..=10_000_000)?;
            logs.records = number_or(&flags, "--records", logs.records, 1..=1000)?;
            logs.in_flight = number_or(&flags, "--in-flight", logs.in_flight, 1..=1000)?;
            logs.stream = switch(&flags, "--stream");
            if let Some(token) = value(&flags, "--admin-token") {
                logs.admin_token = Some(token.to_owned());
            }
            // The verification keeps one byte per record.
            if logs.senders * logs.calls * logs.records > 1_000_000_000 {
                return Err(usage(
                    "senders x calls x records is over 1,000,000,000: too many to verify",
                ));
            }
        }
    }
    Ok(Parsed::Run(Box::new(options)))
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// `(flag, value)` pairs, each flag known to `kind`, given once, with a value unless a switch.
fn flags(kind: ScenarioKind, args: &[String]) -> Result<Vec<(String, Option<String>)>, UsageError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if !flag.starts_with("--") {
            return Err(usage(format!("unexpected argument `{arg}`")));
        }
        let known = COMMON.contains(&flag)
            || scenario_flags(kind)
                .iter()
                .any(|group| group.contains(&flag));
        if !known {
            return Err(usage(format!(
                "unknown option `{flag}` for `{}`",
                kind.name()
            )));
        }
        if out.iter().any(|(seen, _)| seen == flag) {
            return Err(usage(format!("`{flag}` given twice")));
        }
        let value = if SWITCHES.contains(&flag) {
            if inline.is_some() {
                return Err(usage(format!("`{flag}` takes no value")));
            }
            None
        } else {
            match inline {
                Some(value) => Some(value),
                None => match args.next() {
                    Some(value) if !value.starts_with("--") => Some(value.clone()),
                    _ => return Err(usage(format!("`{flag}` needs a value"))),
                },
            }
        };
        out.push((flag.to_owned(), value));
    }
    Ok(out)
}

fn value<'a>(flags: &'a [(String, Option<String>)], flag: &str) -> Option<&'a str> {
    flags
        .iter()
        .find(|(name, _)| name == flag)
        .and_then(|(_, value)| value.as_deref())
}

fn switch(flags: &[(String, Option<String>)], flag: &str) -> bool {
    flags.iter().any(|(name, _)| name == flag)
}

fn apply_common(options: &mut Options, flag: &str, value: Option<&str>) -> Result<(), UsageError> {
    let Some(value) = value else {
        return Ok(());
    };
    match flag {
        "--post-addr" => options.target.post = address(flag, value)?,
        "--fanout-addr" => options.target.fanout = address(flag, value)?,
        "--feed-addr" => options.target.feed = address(flag, value)?,
        "--logs-addr" => options.target.logs = address(flag, value)?,
        "--redis-url" => {
            if !feedline_redis::URL_SCHEMES
                .iter()
                .any(|scheme| value.starts_with(scheme))
            {
                return Err(usage(format!(
                    "`--redis-url {value}`: not a redis-cluster:// URL"
                )));
            }
            options.target.redis_url = value.to_owned();
        }
        "--connections" => options.connections = number(flag, value, 1..=1024)?,
        "--token" => options.target.token = Some(value.to_owned()),
        "--json" => options.json = Some(PathBuf::from(value)),
        "--html" => options.html = Some(PathBuf::from(value)),
        _ => {}
    }
    Ok(())
}

fn apply_load(load: &mut Load, flags: &[(String, Option<String>)]) -> Result<(), UsageError> {
    load.vus = number_or(flags, "--vus", load.vus, 1..=100_000)?;
    let seconds = number_or(flags, "--duration", load.duration.as_secs(), 1..=86_400)?;
    load.duration = Duration::from_secs(seconds);
    if let Some(text) = value(flags, "--rate") {
        let rate: f64 = text
            .parse()
            .map_err(|_| usage(format!("`--rate {text}`: not a number")))?;
        if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
            return Err(usage(format!(
                "`--rate {text}`: must be above 0 and at most 10000000"
            )));
        }
        load.rate = Some(rate);
    }
    Ok(())
}

fn apply_timelines(
    timelines: &mut TimelineSettings,
    flags: &[(String, Option<String>)],
) -> Result<(), UsageError> {
    // The services' own ranges for these variables.
    timelines.cap = number_or(flags, "--timeline-cap", timelines.cap, 10..=100_000)?;
    timelines.celebrity_threshold = number_or(
        flags,
        "--celebrity-threshold",
        timelines.celebrity_threshold,
        1..=100_000_000,
    )?;
    Ok(())
}

fn fanout_shape(flags: &[(String, Option<String>)]) -> Result<Shape, UsageError> {
    if switch(flags, "--random-followers") {
        if switch(flags, "--graph") {
            return Err(usage(
                "`--graph` and `--random-followers` are two shapes: pick one",
            ));
        }
        let Shape::Random {
            authors,
            followers,
            users,
            seed,
        } = Shape::RANDOM
        else {
            unreachable!("Shape::RANDOM is a Random shape")
        };
        let authors = number_or(flags, "--authors", authors, 1..=100_000)?;
        let followers = number_or(flags, "--followers", followers, 1..=10_000_000)?;
        let users = number_or(flags, "--users", users, 2..=10_000_000)?;
        Plan::check_random(authors, authors * followers, users).map_err(usage)?;
        return Ok(Shape::Random {
            authors,
            followers,
            users,
            seed: number_or(flags, "--seed", seed, 0..)?,
        });
    }
    if switch(flags, "--graph") {
        for fixed in ["--followers", "--authors"] {
            if switch(flags, fixed) {
                return Err(usage(format!(
                    "`{fixed}` does not apply with `--graph` (use --users)"
                )));
            }
        }
        Ok(Shape::Graph {
            users: number_or(flags, "--users", 2000, 2..=10_000_000)?,
            seed: number_or(flags, "--seed", 1, 0..)?,
        })
    } else {
        for graph_only in ["--users", "--seed"] {
            if switch(flags, graph_only) {
                return Err(usage(format!(
                    "`{graph_only}` applies only with `--graph` or `--random-followers`"
                )));
            }
        }
        Ok(Shape::Fixed {
            authors: number_or(flags, "--authors", 10, 1..=100_000)?,
            followers: number_or(flags, "--followers", 500, 1..=10_000_000)?,
        })
    }
}

fn number_or<T>(
    flags: &[(String, Option<String>)],
    flag: &str,
    default: T,
    range: impl std::ops::RangeBounds<T> + std::fmt::Debug,
) -> Result<T, UsageError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value(flags, flag) {
        Some(text) => number(flag, text, range),
        None => Ok(default),
    }
}

fn number<T>(
    flag: &str,
    text: &str,
    range: impl std::ops::RangeBounds<T> + std::fmt::Debug,
) -> Result<T, UsageError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let number: T = text
        .parse()
        .map_err(|_| usage(format!("`{flag} {text}`: not a whole number")))?;
    if !range.contains(&number) {
        return Err(usage(format!(
            "`{flag} {text}`: out of range ({})",
            describe_range(&range)
        )));
    }
    Ok(number)
}

fn describe_range<T: std::fmt::Display>(range: &impl std::ops::RangeBounds<T>) -> String {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    match (range.start_bound(), range.end_bound()) {
        (Included(low), Included(high)) => format!("{low} to {high}"),
        (Included(low), Unbounded) => format!("at least {low}"),
        (Included(low), Excluded(high)) => format!("{low} to below {high}"),
        _ => "see --help".to_owned(),
    }
}

/// `host:port` or `http(s)://host:port` as a URL tonic accepts.
fn address(flag: &str, value: &str) -> Result<String, UsageError> {
    let url = if value.starts_with("http://") || value.starts_with("https://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let bad = || {
        usage(format!(
            "`{flag} {value}`: not an address like 127.0.0.1:50051"
        ))
    };
    let uri: tonic::transport::Uri = url.parse().map_err(|_| bad())?;
    if uri.host().is_none_or(str::is_empty) || uri.port_u16().is_none() {
        return Err(bad());
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(bad());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{FeedOptions, LogsOptions};

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn options(line: &str) -> Options {
        match parse(&args(line)) {
            Ok(Parsed::Run(options)) => *options,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        match parse(&args(line)) {
            Err(UsageError(message)) => message,
            other => panic!("{line} parsed: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_issues() {
        let fanout = options("fanout");
        assert_eq!(fanout, Options::new(ScenarioKind::Fanout));
        let Scenario::Fanout(f) = fanout.scenario else {
            panic!()
        };
        assert_eq!(f.load.vus, 500);
        assert_eq!(f.load.duration, Duration::from_secs(60));
        assert_eq!(f.load.rate, None);
        assert_eq!(
            f.shape,
            Shape::Fixed {
                authors: 10,
                followers: 500
            }
        );
        assert_eq!(f.timelines.cap, 800);
        assert_eq!(f.timelines.celebrity_threshold, 10_000);
        assert_eq!(fanout.target.post, "http://127.0.0.1:50051");
        assert_eq!(fanout.target.redis_url, feedline_redis::DEFAULT_URL);
        let Scenario::Read(read) = options("read").scenario else {
            panic!()
        };
        assert_eq!(read.load.vus, 64);
        let Scenario::Logs(logs) = options("logs").scenario else {
            panic!()
        };
        assert_eq!((logs.senders, logs.calls, logs.records), (400, 100, 100));
        let Scenario::FollowStorm(storm) = options("follow-storm").scenario else {
            panic!()
        };
        assert_eq!(
            (storm.follows, storm.users, storm.authors, storm.load.rate),
            (200_000, 20_000, 400, Some(500.0))
        );
        assert!(!logs.stream);
    }

    #[test]
    fn options_are_applied() {
        let o = options(
            "fanout --followers 20 --authors 2 --vus 8 --duration 2 --rate 150.5 \
             --post-addr 10.0.0.1:1 --feed-addr=http://h:2 --json out.json --timeline-cap 100",
        );
        assert_eq!(o.target.post, "http://10.0.0.1:1");
        assert_eq!(o.target.feed, "http://h:2");
        assert_eq!(o.json, Some(PathBuf::from("out.json")));
        let Scenario::Fanout(f) = o.scenario else {
            panic!()
        };
        assert_eq!(
            f.shape,
            Shape::Fixed {
                authors: 2,
                followers: 20
            }
        );
        assert_eq!(f.load.rate, Some(150.5));
        assert_eq!(f.timelines.cap, 100);
        let graph = options("fanout --graph --users 50 --seed 7");
        let Scenario::Fanout(f) = graph.scenario else {
            panic!()
        };
        assert_eq!(f.shape, Shape::Graph { users: 50, seed: 7 });
        let random = options("fanout --random-followers --authors 4 --followers 5 --seed 2");
        let Scenario::Fanout(f) = random.scenario else {
            panic!()
        };
        assert_eq!(
            f.shape,
            Shape::Random {
                authors: 4,
                followers: 5,
                users: 20_000,
                seed: 2
            }
        );
        let Scenario::Fanout(f) = options("fanout --random-followers").scenario else {
            panic!()
        };
        assert_eq!(f.shape, Shape::RANDOM);
        let storm =
            options("follow-storm --follows 30 --users 50 --authors 3 --clients 4 --rate 20");
        let Scenario::FollowStorm(storm) = storm.scenario else {
            panic!()
        };
        assert_eq!(
            (storm.follows, storm.users, storm.authors, storm.clients),
            (30, 50, 3, 4)
        );
        assert_eq!(storm.load.rate, Some(20.0));
        let logs = options("logs --senders 8 --calls 5 --records 20 --stream --admin-token s");
        assert_eq!(
            logs.scenario,
            Scenario::Logs(LogsOptions {
                senders: 8,
                calls: 5,
                records: 20,
                stream: true,
                in_flight: 8,
                admin_token: Some("s".to_owned()),
            })
        );
        let mixed = options("mixed --users 20 --posts 3");
        assert_eq!(
            mixed.scenario,
            Scenario::Mixed(FeedOptions {
                users: 20,
                posts: 3,
                sample_every: 10,
                ..FeedOptions::default()
            })
        );
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        assert!(error("").contains("no scenario"));
        assert!(error("storm").contains("unknown scenario `storm`"));
        assert!(error("fanout --speed 3").contains("unknown option `--speed`"));
        assert!(error("logs --vus 3").contains("unknown option `--vus`"));
        assert!(error("read --graph").contains("unknown option `--graph`"));
        assert!(error("fanout --vus").contains("needs a value"));
        assert!(error("fanout --vus --duration 3").contains("`--vus` needs a value"));
        assert!(error("fanout --vus ten").contains("not a whole number"));
        assert!(error("fanout --vus 0").contains("out of range"));
        assert!(error("fanout --vus -3").contains("not a whole number"));
        assert!(error("fanout --duration 1.5").contains("not a whole number"));
        assert!(error("fanout --rate 0").contains("above 0"));
        assert!(error("fanout --rate fast").contains("not a number"));
        assert!(error("fanout --rate NaN").contains("above 0"));
        assert!(error("fanout --vus 3 --vus 4").contains("twice"));
        assert!(error("fanout extra").contains("unexpected argument"));
        assert!(error("fanout --graph=yes").contains("takes no value"));
        assert!(error("fanout --graph --followers 3").contains("does not apply"));
        assert!(error("fanout --users 30").contains("only with `--graph`"));
        assert!(error("fanout --graph --random-followers").contains("pick one"));
        assert!(
            error("fanout --random-followers --authors 2 --users 100 --followers 100")
                .contains("other users")
        );
        assert!(
            error("fanout --random-followers --users 10 --authors 11").contains("authors among")
        );
        assert!(error("follow-storm --follows 100 --users 10 --authors 5").contains("other users"));
        assert!(error("follow-storm --graph").contains("unknown option"));
        assert!(error("fanout --graph --users 1").contains("out of range"));
        assert!(error("fanout --timeline-cap 5").contains("10 to 100000"));
        assert!(error("logs --records 1001").contains("out of range"));
        assert!(error("logs --senders 100000 --calls 10000").contains("too many"));
        assert!(error("fanout --post-addr nowhere").contains("not an address"));
        assert!(error("fanout --post-addr http://h:1/x").contains("not an address"));
        assert!(error("fanout --redis-url redis://h:1").contains("redis-cluster://"));
        assert!(error("fanout --connections 0").contains("out of range"));
        assert!(error("fanout --duration 30 --kill-master-after 30").contains("less than"));
        assert!(error("fanout --kill-master-after 0").contains("out of range"));
        assert!(error("read --kill-master-after 5").contains("unknown option"));
    }

    #[test]
    fn kill_master_after_is_a_point_of_the_load() {
        let o = options("fanout --rate 200 --duration 30 --kill-master-after 10");
        let Scenario::Fanout(f) = o.scenario else {
            panic!()
        };
        assert_eq!(f.kill_master_after, Some(Duration::from_secs(10)));
        let Scenario::Fanout(f) = options("fanout").scenario else {
            panic!()
        };
        assert_eq!(f.kill_master_after, None);
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(&args("--help")), Ok(Parsed::Help));
        assert_eq!(parse(&args("fanout --vus 3 -h")), Ok(Parsed::Help));
        assert_eq!(parse(&args("help")), Ok(Parsed::Help));
    }
}
