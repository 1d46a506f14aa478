//! The command line, with clap: `loadgen <scenario> [options]` into [`Options`],
//! `loadgen dev-keys DIR`, and (with the `bench` feature) `loadgen bench <name>`. A mistake
//! is a clap error (exit code 2) that names the offending argument.

mod args;
#[cfg(test)]
mod tests;
mod values;

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser, Subcommand};

pub use self::args::{
    Common, FanoutArgs, FollowStormArgs, LoadArgs, LogsArgs, MixedArgs, ReadArgs, TimelineArgs,
    World,
};
use crate::options::{Options, Scenario, ScenarioKind, Shape};
use crate::social::Plan;

/// How the load is sent, what the exit codes mean: printed after the help.
const NOTES: &str = "\
--rate R is an open loop at R requests/s (--vus then caps the requests in flight), latency
counted from each request's intended start; without it, a closed loop with no think time.
--celebrity-threshold and --timeline-cap must match the services' FEEDLINE_CELEBRITY_THRESHOLD
and FEEDLINE_TIMELINE_CAP. `cargo xtask load <scenario> [options]` builds and runs loadgen.
Exit codes: 0 done, 1 failure or data missing, 2 bad usage.";

/// feedline's load generator: the seeds' experiments against a running stack.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, after_help = NOTES, subcommand_required = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// A scenario with its options, or another command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// F followers following A authors (or --graph: a power-law social graph); V virtual users
    /// post as those authors; measures fan-out lag of sampled posts, the drain after the load,
    /// and checks every acknowledged post is in every follower's timeline.
    Fanout(FanoutArgs),
    /// --follows N follows of A authors by users drawn at random among U, sent by --clients
    /// callers as fast as post-service takes them; counts the follows fan-out applies (in the
    /// follower indexes) while posts of random authors arrive at --rate; then checks every
    /// follower indexed and every post in every timeline.
    FollowStorm(FollowStormArgs),
    /// GetFeed (20 items) of random users, after their timelines are filled.
    Read(ReadArgs),
    /// 60% GetFeed, 30% ListAuthorPosts, 10% CreatePost (DeathStarBench's social network);
    /// then the same fan-out checks as fanout.
    Mixed(MixedArgs),
    /// S senders x R calls x B records, unary Ingest or --stream; then every acknowledged
    /// record is looked up with QueryLogs: missing and duplicate records are counted.
    Logs(LogsArgs),
    /// A dev signing key, its jwks.json, service.token and admin.token in DIR
    /// (docker-compose.yml's auth-init).
    DevKeys {
        /// Where the key and tokens go (a key already there is kept).
        dir: PathBuf,
    },
    /// A service next to the raw store beneath it, in one run (`cargo xtask bench`).
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(crate::bench::Bench),
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Parsed {
    /// A scenario.
    Run(Box<Options>),
    /// `dev-keys DIR`.
    DevKeys(PathBuf),
    /// `bench <name> [options]`.
    #[cfg(feature = "bench")]
    Bench(crate::bench::Bench),
}

/// Parses the arguments after the program name; help and version are "errors" too, which
/// `exit()` prints with exit code 0.
pub fn parse(args: &[String]) -> Result<Parsed, clap::Error> {
    let cli =
        Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().map(String::as_str)))?;
    let options = match cli.command {
        Command::Fanout(args) => fanout(args)?,
        Command::FollowStorm(args) => follow_storm(args)?,
        Command::Read(args) => feed(
            ScenarioKind::Read,
            &args.common,
            &args.load,
            &args.world,
            None,
        ),
        Command::Mixed(args) => feed(
            ScenarioKind::Mixed,
            &args.common,
            &args.load,
            &args.world,
            Some(&args.timelines),
        ),
        Command::Logs(args) => logs(args)?,
        Command::DevKeys { dir } => return Ok(Parsed::DevKeys(dir)),
        #[cfg(feature = "bench")]
        Command::Bench(bench) => return Ok(Parsed::Bench(bench)),
    };
    Ok(Parsed::Run(Box::new(options)))
}

/// A usage error found after clap's own checks (two options that do not go together).
fn usage(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    Cli::command().error(kind, message)
}

fn fanout(args: FanoutArgs) -> Result<Options, clap::Error> {
    let mut options = args.common.options(ScenarioKind::Fanout);
    let Scenario::Fanout(fanout) = &mut options.scenario else {
        unreachable!("the defaults of fanout are a fanout")
    };
    args.load.apply(&mut fanout.load);
    args.timelines
        .apply(&mut fanout.timelines, &mut fanout.sample_every);
    fanout.shape = fanout_shape(&args)?;
    if let Some(seconds) = args.kill_master_after {
        if seconds >= fanout.load.duration.as_secs() {
            return Err(usage(
                ErrorKind::ValueValidation,
                format!(
                    "`--kill-master-after {seconds}` must be less than --duration ({})",
                    fanout.load.duration.as_secs()
                ),
            ));
        }
        fanout.kill_master_after = Some(Duration::from_secs(seconds));
    }
    Ok(options)
}

fn fanout_shape(args: &FanoutArgs) -> Result<Shape, clap::Error> {
    let draw = &args.draw;
    let conflict = |message: String| usage(ErrorKind::ArgumentConflict, message);
    if args.random_followers {
        let Shape::Random {
            authors,
            followers,
            users,
            seed,
        } = Shape::RANDOM
        else {
            unreachable!("Shape::RANDOM is a Random shape")
        };
        let authors = draw.authors.unwrap_or(authors);
        let followers = args.followers.unwrap_or(followers);
        let users = draw.users.unwrap_or(users);
        Plan::check_random(authors, authors * followers, users).map_err(conflict)?;
        return Ok(Shape::Random {
            authors,
            followers,
            users,
            seed: draw.seed.unwrap_or(seed),
        });
    }
    if args.graph {
        for (fixed, given) in [
            ("--followers", args.followers.is_some()),
            ("--authors", draw.authors.is_some()),
        ] {
            if given {
                return Err(conflict(format!(
                    "`{fixed}` does not apply with `--graph` (use --users)"
                )));
            }
        }
        return Ok(Shape::Graph {
            users: draw.users.unwrap_or(2000),
            seed: draw.seed.unwrap_or(1),
        });
    }
    for (graph_only, given) in [
        ("--users", draw.users.is_some()),
        ("--seed", draw.seed.is_some()),
    ] {
        if given {
            return Err(conflict(format!(
                "`{graph_only}` applies only with `--graph` or `--random-followers`"
            )));
        }
    }
    Ok(Shape::Fixed {
        authors: draw.authors.unwrap_or(10),
        followers: args.followers.unwrap_or(500),
    })
}

fn follow_storm(args: FollowStormArgs) -> Result<Options, clap::Error> {
    let mut options = args.common.options(ScenarioKind::FollowStorm);
    let Scenario::FollowStorm(storm) = &mut options.scenario else {
        unreachable!("the defaults of follow-storm are a follow-storm")
    };
    args.load.apply(&mut storm.load);
    args.timelines
        .apply(&mut storm.timelines, &mut storm.sample_every);
    storm.follows = args.follows.unwrap_or(storm.follows);
    storm.users = args.draw.users.unwrap_or(storm.users);
    storm.authors = args.draw.authors.unwrap_or(storm.authors);
    storm.seed = args.draw.seed.unwrap_or(storm.seed);
    storm.clients = args.clients.unwrap_or(storm.clients);
    Plan::check_random(storm.authors, storm.follows, storm.users)
        .map_err(|problem| usage(ErrorKind::ArgumentConflict, problem))?;
    Ok(options)
}

fn feed(
    kind: ScenarioKind,
    common: &Common,
    load: &LoadArgs,
    world: &World,
    timelines: Option<&TimelineArgs>,
) -> Options {
    let mut options = common.options(kind);
    let (Scenario::Read(feed) | Scenario::Mixed(feed)) = &mut options.scenario else {
        unreachable!("the defaults of read and mixed are feed options")
    };
    load.apply(&mut feed.load);
    if let Some(timelines) = timelines {
        timelines.apply(&mut feed.timelines, &mut feed.sample_every);
    }
    feed.users = world.users.unwrap_or(feed.users);
    feed.authors = world.authors.unwrap_or(feed.authors);
    feed.posts = world.posts.unwrap_or(feed.posts);
    options
}

fn logs(args: LogsArgs) -> Result<Options, clap::Error> {
    let mut options = args.common.options(ScenarioKind::Logs);
    let Scenario::Logs(logs) = &mut options.scenario else {
        unreachable!("the defaults of logs are a logs")
    };
    logs.senders = args.senders;
    logs.calls = args.calls;
    logs.records = args.records;
    logs.in_flight = args.in_flight;
    logs.stream = args.stream;
    logs.admin_token = args.admin_token;
    // The verification keeps one byte per record.
    if logs.senders * logs.calls * logs.records > 1_000_000_000 {
        return Err(usage(
            ErrorKind::ValueValidation,
            "senders x calls x records is over 1,000,000,000: too many to verify",
        ));
    }
    Ok(options)
}
