//! The command line against the issues' defaults and every kind of mistake.

use std::path::PathBuf;
use std::time::Duration;

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
        Err(error) => error.to_string(),
        Ok(other) => panic!("{line} parsed: {other:?}"),
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
    for kind in ScenarioKind::ALL {
        assert_eq!(options(kind.name()), Options::new(kind), "{}", kind.name());
    }
    let Scenario::FollowStorm(storm) = options("follow-storm").scenario else {
        panic!()
    };
    assert_eq!(
        (storm.follows, storm.users, storm.authors, storm.load.rate),
        (200_000, 20_000, 400, Some(500.0))
    );
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
    let Scenario::Fanout(f) = options("fanout --graph --users 50 --seed 7").scenario else {
        panic!()
    };
    assert_eq!(f.shape, Shape::Graph { users: 50, seed: 7 });
    let random = options("fanout --random-followers --authors 4 --followers 5 --seed 2");
    let Scenario::Fanout(f) = random.scenario else {
        panic!()
    };
    let shape = Shape::Random {
        authors: 4,
        followers: 5,
        users: 20_000,
        seed: 2,
    };
    assert_eq!(f.shape, shape);
    let Scenario::Fanout(f) = options("fanout --random-followers").scenario else {
        panic!()
    };
    assert_eq!(f.shape, Shape::RANDOM);
    let storm = options("follow-storm --follows 30 --users 50 --authors 3 --clients 4 --rate 20");
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
    for (line, says) in [
        ("storm", "storm"),
        ("fanout --speed 3", "--speed"),
        ("logs --vus 3", "--vus"),
        ("read --graph", "--graph"),
        ("read --timeline-cap 100", "--timeline-cap"),
        ("fanout --vus", "--vus"),
        ("fanout --vus ten", "not a whole number"),
        ("fanout --vus 0", "out of range"),
        ("fanout --duration 1.5", "not a whole number"),
        ("fanout --rate 0", "above 0"),
        ("fanout --rate fast", "not a number"),
        ("fanout --rate NaN", "above 0"),
        ("fanout --vus 3 --vus 4", "--vus"),
        ("fanout extra", "extra"),
        ("fanout --graph=yes", "--graph"),
        ("fanout --graph --followers 3", "does not apply"),
        ("fanout --users 30", "only with `--graph`"),
        ("fanout --graph --random-followers", "--random-followers"),
        (
            "fanout --random-followers --authors 2 --users 100 --followers 100",
            "other users",
        ),
        (
            "fanout --random-followers --users 10 --authors 11",
            "authors among",
        ),
        (
            "follow-storm --follows 100 --users 10 --authors 5",
            "other users",
        ),
        ("follow-storm --graph", "--graph"),
        ("fanout --graph --users 1", "out of range"),
        ("fanout --timeline-cap 5", "10 to 100000"),
        ("logs --records 1001", "out of range"),
        ("logs --senders 100000 --calls 10000", "too many"),
        ("fanout --post-addr nowhere", "not an address"),
        ("fanout --post-addr http://h:1/x", "not an address"),
        ("fanout --redis-url redis://h:1", "redis-cluster://"),
        ("fanout --connections 0", "out of range"),
        ("fanout --duration 30 --kill-master-after 30", "less than"),
        ("fanout --kill-master-after 0", "out of range"),
        ("read --kill-master-after 5", "--kill-master-after"),
    ] {
        let message = error(line);
        assert!(message.contains(says), "{line}: {message}");
    }
    assert!(parse(&[]).is_err());
    assert_eq!(
        parse(&args("fanout --vus 3 --vus 4")).unwrap_err().kind(),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn kill_master_after_is_a_point_of_the_load() {
    let o = options("fanout --rate 200 --duration 30 --kill-master-after 10");
    let Scenario::Fanout(f) = o.scenario else {
        panic!()
    };
    assert_eq!(f.kill_master_after, Some(Duration::from_secs(10)));
}

#[test]
fn help_and_other_commands() {
    for line in ["--help", "fanout --vus 3 -h", "help", "help fanout"] {
        let kind = parse(&args(line)).unwrap_err().kind();
        assert_eq!(kind, ErrorKind::DisplayHelp, "{line}");
    }
    let version = parse(&args("--version")).unwrap_err().kind();
    assert_eq!(version, ErrorKind::DisplayVersion);
    let Ok(Parsed::DevKeys(dir)) = parse(&args("dev-keys /tmp/keys")) else {
        panic!("dev-keys")
    };
    assert_eq!(dir, PathBuf::from("/tmp/keys"));
    Cli::command().debug_assert();
}
