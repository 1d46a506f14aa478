//! The options of each scenario, as clap reads them. A number left out keeps the scenario's
//! default (`Options::new`), which differs between scenarios, hence the `Option`s.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{address, rate, redis_url, whole};
use crate::options::{Load, Options, ScenarioKind, TimelineSettings};

/// Options every scenario takes: where the stack is, and where the reports go.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// post-service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051", value_parser = address)]
    pub post_addr: String,
    /// fanout-service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052", value_parser = address)]
    pub fanout_addr: String,
    /// feed-read-service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50053", value_parser = address)]
    pub feed_addr: String,
    /// log-ingest-service's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50054", value_parser = address)]
    pub logs_addr: String,
    /// The Redis Cluster (the one of `cargo xtask up` by default).
    #[arg(long, value_name = "URL", default_value = feedline_redis::DEFAULT_URL, value_parser = redis_url)]
    pub redis_url: String,
    /// HTTP/2 connections per service.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = whole(1..=1024usize))]
    pub connections: usize,
    /// The bearer token calls carry (an admin's; default $FEEDLINE_TOKEN, else the admin token
    /// `cargo xtask up` wrote to .feedline/auth/admin.token).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
    /// Write the figures under stable keys to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained report with charts to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl Common {
    /// The defaults of `kind` with these settings.
    pub fn options(&self, kind: ScenarioKind) -> Options {
        let mut options = Options::new(kind);
        let target = &mut options.target;
        target.post.clone_from(&self.post_addr);
        target.fanout.clone_from(&self.fanout_addr);
        target.feed.clone_from(&self.feed_addr);
        target.logs.clone_from(&self.logs_addr);
        target.redis_url.clone_from(&self.redis_url);
        target.token.clone_from(&self.token);
        options.connections = self.connections;
        options.json.clone_from(&self.json);
        options.html.clone_from(&self.html);
        options
    }
}

/// How requests are sent.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Virtual users (closed loop), or the most requests in flight (with --rate).
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000usize))]
    pub vus: Option<usize>,
    /// Seconds of load.
    #[arg(long, value_name = "S", value_parser = whole(1..=86_400u64))]
    pub duration: Option<u64>,
    /// An open loop at R requests/s.
    #[arg(long, value_name = "R", value_parser = rate)]
    pub rate: Option<f64>,
}

impl LoadArgs {
    /// `load` with what was given.
    pub fn apply(&self, load: &mut Load) {
        load.vus = self.vus.unwrap_or(load.vus);
        if let Some(seconds) = self.duration {
            load.duration = Duration::from_secs(seconds);
        }
        load.rate = self.rate.or(load.rate);
    }
}

/// What the fan-out path is configured with, and the lag sampling.
#[derive(Debug, Clone, Args)]
pub struct TimelineArgs {
    /// The services' FEEDLINE_CELEBRITY_THRESHOLD (10000).
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000_000usize))]
    pub celebrity_threshold: Option<usize>,
    /// The services' FEEDLINE_TIMELINE_CAP (800).
    #[arg(long, value_name = "N", value_parser = whole(10..=100_000usize))]
    pub timeline_cap: Option<usize>,
    /// One acknowledged post in N has its fan-out lag measured.
    #[arg(long, value_name = "N", value_parser = whole(1..=u64::MAX))]
    pub sample_every: Option<u64>,
}

impl TimelineArgs {
    /// `timelines` and `sample_every` with what was given.
    pub fn apply(&self, timelines: &mut TimelineSettings, sample_every: &mut u64) {
        timelines.cap = self.timeline_cap.unwrap_or(timelines.cap);
        timelines.celebrity_threshold = self
            .celebrity_threshold
            .unwrap_or(timelines.celebrity_threshold);
        *sample_every = self.sample_every.unwrap_or(*sample_every);
    }
}

/// `fanout`'s options.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Followers of each author (500; --random-followers: followers drawn per author).
    #[arg(long, value_name = "N", value_parser = whole(1..=10_000_000usize))]
    pub followers: Option<usize>,
    /// A power-law social graph of --users users instead.
    #[arg(long, conflicts_with = "random_followers")]
    pub graph: bool,
    /// A authors each followed by F users drawn at random (--seed) among U (--users 20000);
    /// the follows applied before the load, every timeline filled to the cap, posts from random
    /// authors; after the load, the same timeline writes as raw pipelined ZADDs per master,
    /// and the ratio.
    #[arg(long)]
    pub random_followers: bool,
    /// Authors (10; --random-followers: 400), users (--graph: 2000; --random-followers:
    /// 20000) and the seed (1).
    #[command(flatten)]
    pub draw: Draw,
    /// S seconds into the load, crash the Redis master holding the most follower timelines
    /// (SHUTDOWN NOW NOSAVE FORCE; refused unless every master has a replica: `cargo xtask up
    /// --redis-replicas 1`); reports the recovery of the fan-out lag.
    #[arg(long, value_name = "S", value_parser = whole(1..=86_400u64))]
    pub kill_master_after: Option<u64>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub timelines: TimelineArgs,
    #[command(flatten)]
    pub common: Common,
}

/// Who a graph is drawn among, and how.
#[derive(Debug, Clone, Args)]
pub struct Draw {
    /// Authors.
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000usize))]
    pub authors: Option<usize>,
    /// Users.
    #[arg(long, value_name = "N", value_parser = whole(2..=10_000_000usize))]
    pub users: Option<usize>,
    /// The draw's seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// `follow-storm`'s options.
#[derive(Debug, Clone, Args)]
pub struct FollowStormArgs {
    /// Follows sent (200000).
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000_000usize))]
    pub follows: Option<usize>,
    /// Authors followed (400), users the followers are drawn among (20000), the seed (1).
    #[command(flatten)]
    pub draw: Draw,
    /// Concurrent Follow callers (64).
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000usize))]
    pub clients: Option<usize>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub timelines: TimelineArgs,
    #[command(flatten)]
    pub common: Common,
}

/// The world `read` and `mixed` load.
#[derive(Debug, Clone, Args)]
pub struct World {
    /// Readers, each following every author (1000).
    #[arg(long, value_name = "N", value_parser = whole(1..=1_000_000usize))]
    pub users: Option<usize>,
    /// Authors (10).
    #[arg(long, value_name = "N", value_parser = whole(1..=10_000usize))]
    pub authors: Option<usize>,
    /// Posts per author before the load (80).
    #[arg(long, value_name = "N", value_parser = whole(1..=100_000usize))]
    pub posts: Option<usize>,
}

/// `read`'s options.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub world: World,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: Common,
}

/// `mixed`'s options.
#[derive(Debug, Clone, Args)]
pub struct MixedArgs {
    #[command(flatten)]
    pub world: World,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub timelines: TimelineArgs,
    #[command(flatten)]
    pub common: Common,
}

/// `logs`' options.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Concurrent senders (unary) or streams (--stream).
    #[arg(long, value_name = "N", default_value_t = 400, value_parser = whole(1..=100_000usize))]
    pub senders: usize,
    /// Calls (or stream batches) each sender makes.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = whole(1..=10_000_000usize))]
    pub calls: usize,
    /// Records per call (the contract's limit is 1000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = whole(1..=1000usize))]
    pub records: usize,
    /// IngestStream instead of unary Ingest.
    #[arg(long)]
    pub stream: bool,
    /// Batches each stream keeps unanswered.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = whole(1..=1000usize))]
    pub in_flight: usize,
    /// Sent as x-admin-token with CreateApp (default: $FEEDLINE_ADMIN_TOKEN).
    #[arg(long, value_name = "T")]
    pub admin_token: Option<String>,
    #[command(flatten)]
    pub common: Common,
}
