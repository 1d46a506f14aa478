//! What a run is asked to do: the scenario and its shape, where the stack is, where the
//! reports go. Built by the command line (`cli`) or by hand (tests); defaults are the issue's.

use std::path::PathBuf;
use std::time::Duration;

/// The scenarios, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioKind {
    /// CreatePost load and fan-out lag, drain and completeness.
    Fanout,
    /// GetFeed load over many users.
    Read,
    /// 60% GetFeed, 30% ListAuthorPosts, 10% CreatePost.
    Mixed,
    /// Ingest (or IngestStream) load, then every acknowledged record counted in the DB.
    Logs,
    /// Many follows as fast as post-service takes them, then posts while they are applied.
    FollowStorm,
}

impl ScenarioKind {
    /// Every scenario, in the order the usage text lists them.
    pub const ALL: [ScenarioKind; 5] = [
        Self::Fanout,
        Self::Read,
        Self::Mixed,
        Self::Logs,
        Self::FollowStorm,
    ];

    /// The name on the command line and under `scenario` in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fanout => "fanout",
            Self::Read => "read",
            Self::Mixed => "mixed",
            Self::Logs => "logs",
            Self::FollowStorm => "follow-storm",
        }
    }

    /// The scenario called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Everything a run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub scenario: Scenario,
    pub target: Target,
    /// HTTP/2 connections per service that the load is spread over, round robin by VU.
    pub connections: usize,
    /// `--json FILE`: the figures under the keys documented in `report::json`.
    pub json: Option<PathBuf>,
    /// `--html FILE`: a self-contained page with the charts and the summary.
    pub html: Option<PathBuf>,
}

impl Options {
    /// The defaults of `kind` against the stack of `cargo xtask up`.
    pub fn new(kind: ScenarioKind) -> Self {
        Self {
            scenario: Scenario::defaults(kind),
            target: Target::default(),
            connections: 8,
            json: None,
            html: None,
        }
    }
}

/// A scenario with its own options.
#[derive(Clone, Debug, PartialEq)]
pub enum Scenario {
    Fanout(FanoutOptions),
    Read(FeedOptions),
    Mixed(FeedOptions),
    Logs(LogsOptions),
    FollowStorm(FollowStormOptions),
}

impl Scenario {
    /// `kind` with its defaults.
    pub fn defaults(kind: ScenarioKind) -> Self {
        match kind {
            ScenarioKind::Fanout => Self::Fanout(FanoutOptions::default()),
            ScenarioKind::Read => Self::Read(FeedOptions::default()),
            ScenarioKind::Mixed => Self::Mixed(FeedOptions {
                sample_every: 10,
                ..FeedOptions::default()
            }),
            ScenarioKind::Logs => Self::Logs(LogsOptions::default()),
            ScenarioKind::FollowStorm => Self::FollowStorm(FollowStormOptions::default()),
        }
    }

    /// Which scenario this is.
    pub fn kind(&self) -> ScenarioKind {
        match self {
            Self::Fanout(_) => ScenarioKind::Fanout,
            Self::Read(_) => ScenarioKind::Read,
            Self::Mixed(_) => ScenarioKind::Mixed,
            Self::Logs(_) => ScenarioKind::Logs,
            Self::FollowStorm(_) => ScenarioKind::FollowStorm,
        }
    }
}

/// Where the stack is: `http://host:port` of each service and the Redis Cluster's URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub post: String,
    pub fanout: String,
    pub feed: String,
    pub logs: String,
    /// A `redis-cluster://` URL, read directly to see what fan-out wrote.
    pub redis_url: String,
    /// `--token`: the bearer token every call carries (an admin's: the load acts for many
    /// users); `$FEEDLINE_TOKEN`, else the admin token `cargo xtask up` wrote, when unset.
    pub token: Option<String>,
}

impl Default for Target {
    /// The addresses `cargo xtask up` uses.
    fn default() -> Self {
        Self {
            post: "http://127.0.0.1:50051".to_owned(),
            fanout: "http://127.0.0.1:50052".to_owned(),
            feed: "http://127.0.0.1:50053".to_owned(),
            logs: "http://127.0.0.1:50054".to_owned(),
            redis_url: feedline_redis::DEFAULT_URL.to_owned(),
            token: None,
        }
    }
}

/// How requests are sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Closed loop: concurrent callers, each sending its next request when the last is
    /// answered. Open loop: the most requests in flight at once (a request due while all are
    /// busy waits, and its wait counts in its latency).
    pub vus: usize,
    /// How long requests are started for; those in flight at the end are still awaited.
    pub duration: Duration,
    /// `Some(r)`: open loop at r requests/s, latency measured from each request's intended
    /// start (no coordinated omission). `None`: closed loop with no think time.
    pub rate: Option<f64>,
}

/// What the fan-out path is configured with: must match the services' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineSettings {
    /// `FEEDLINE_TIMELINE_CAP`: entries a timeline keeps, so the newest this many of a
    /// follower's followees' posts are checked.
    pub cap: usize,
    /// `FEEDLINE_CELEBRITY_THRESHOLD`: authors with more followers are not fanned out.
    pub celebrity_threshold: usize,
}

impl Default for TimelineSettings {
    fn default() -> Self {
        Self {
            cap: feedline_redis::DEFAULT_TIMELINE_CAP,
            celebrity_threshold: 10_000,
        }
    }
}

/// Who follows whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every one of `followers` users follows each of `authors` users (the seed's shape).
    Fixed { authors: usize, followers: usize },
    /// `users` users with power-law (Zipf) follower counts; every user posts.
    Graph { users: usize, seed: u64 },
    /// `authors` of `users` users, each followed by `followers` others drawn at random with
    /// `seed`; posts by random authors; timelines filled to the cap before the load, and the
    /// raw ZADD baseline of the same writes after it (`--random-followers`).
    Random {
        authors: usize,
        followers: usize,
        users: usize,
        seed: u64,
    },
}

impl Shape {
    /// The shape of `--random-followers` with the defaults: 400 authors x 500
    /// followers among 20,000 users.
    pub const RANDOM: Shape = Shape::Random {
        authors: 400,
        followers: 500,
        users: 20_000,
        seed: 1,
    };
}

/// Options of `fanout`.
#[derive(Clone, Debug, PartialEq)]
pub struct FanoutOptions {
    pub load: Load,
    pub shape: Shape,
    pub timelines: TimelineSettings,
    /// One acknowledged post in this many has its fan-out lag measured.
    pub sample_every: u64,
    /// `--kill-master-after S`: this far into the load, crash the Redis master that holds
    /// the most follower timelines (`SHUTDOWN NOW NOSAVE FORCE`), and measure the recovery.
    pub kill_master_after: Option<Duration>,
}

impl Default for FanoutOptions {
    fn default() -> Self {
        Self {
            load: Load {
                vus: 500,
                duration: Duration::from_secs(60),
                rate: None,
            },
            shape: Shape::Fixed {
                authors: 10,
                followers: 500,
            },
            timelines: TimelineSettings::default(),
            sample_every: 50,
            kill_master_after: None,
        }
    }
}

/// Options of `follow-storm`: `follows` follows of `authors` by users drawn at random among
/// `users` (seeded), sent by `clients` callers in a closed loop as fast as post-service takes
/// them; then posts of random authors as `load` says, while the follows are being applied.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowStormOptions {
    pub follows: usize,
    pub users: usize,
    pub authors: usize,
    pub seed: u64,
    /// Concurrent Follow callers.
    pub clients: usize,
    /// The posts after the storm (open loop at 500/s by default).
    pub load: Load,
    pub timelines: TimelineSettings,
    /// One acknowledged post in this many has its fan-out lag measured.
    pub sample_every: u64,
}

impl Default for FollowStormOptions {
    fn default() -> Self {
        Self {
            follows: 200_000,
            users: 20_000,
            authors: 400,
            seed: 1,
            clients: 64,
            load: Load {
                vus: 500,
                duration: Duration::from_secs(30),
                rate: Some(500.0),
            },
            timelines: TimelineSettings::default(),
            sample_every: 50,
        }
    }
}

/// Options of `read` and `mixed`: readers following authors, timelines filled first.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedOptions {
    pub load: Load,
    /// Readers; each follows every author.
    pub users: usize,
    pub authors: usize,
    /// Posts each author writes before the load (10 x 80 fills timelines to the cap of 800).
    pub posts: usize,
    pub timelines: TimelineSettings,
    /// `mixed`: one acknowledged post in this many has its fan-out lag measured.
    pub sample_every: u64,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            load: Load {
                vus: 64,
                duration: Duration::from_secs(60),
                rate: None,
            },
            users: 1000,
            authors: 10,
            posts: 80,
            timelines: TimelineSettings::default(),
            sample_every: 50,
        }
    }
}

/// Options of `logs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogsOptions {
    /// Concurrent senders (unary) or streams (`stream`).
    pub senders: usize,
    /// Calls (or stream batches) each sender makes.
    pub calls: usize,
    /// Records per call (at most 1000, the contract's limit).
    pub records: usize,
    /// IngestStream instead of unary Ingest.
    pub stream: bool,
    /// Batches each stream keeps unanswered.
    pub in_flight: usize,
    /// Sent as `x-admin-token` with CreateApp.
    pub admin_token: Option<String>,
}

impl Default for LogsOptions {
    fn default() -> Self {
        Self {
            senders: 400,
            calls: 100,
            records: 100,
            stream: false,
            in_flight: 8,
            admin_token: None,
        }
    }
}
