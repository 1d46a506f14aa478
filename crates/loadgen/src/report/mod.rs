//! The result of a run and its three renderings: the k6-style text summary (`text`), the JSON
//! figures under stable keys (`json`, where the keys are documented) and the self-contained
//! HTML page with inline SVG charts (`html`, `svg`).

pub mod html;
pub mod json;
mod sections;
pub mod svg;
pub mod text;

use std::time::Duration;

use crate::options::ScenarioKind;
use crate::stats::{Latency, Totals};
use crate::timelines::check::Completeness;
use crate::timelines::lag::LagOutcome;

/// Everything a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: ScenarioKind,
    /// The six characters in the handles and app name the run created.
    pub run_id: String,
    /// When the load started, in Unix ms.
    pub started_unix_ms: u64,
    /// The shape in a few words, e.g. "10 authors x 500 followers, 500 VUs, closed loop, 60 s".
    pub shape: String,
    /// The options that shaped the run, as JSON values (`options` in the JSON report).
    pub options: Vec<(&'static str, serde_json::Value)>,
    pub totals: Totals,
    /// `fanout` and `mixed`.
    pub fanout: Option<FanoutFigures>,
    /// `logs`.
    pub logs: Option<LogsFigures>,
    /// `follow-storm`: the follows, before the posts of `fanout`.
    pub follows: Option<FollowFigures>,
    /// Things the reader should know (celebrities left out, a threshold mismatch, ...).
    pub notes: Vec<String>,
}

/// What the fan-out did, measured in the Redis Cluster.
#[derive(Clone, Debug, Default)]
pub struct FanoutFigures {
    /// Posts acknowledged during the load.
    pub posts: u64,
    /// Posts written before the load (warm-up, pre-fill); checked at the end too.
    pub setup_posts: u64,
    /// Users who posted.
    pub authors: u64,
    /// Users following at least one author.
    pub followers: u64,
    /// Authors with more followers than the threshold: not fanned out, not checked.
    pub celebrity_authors: u64,
    /// Their posts acknowledged during the load.
    pub celebrity_posts: u64,
    /// Posts acknowledged during the load x followers of each one's author (celebrities'
    /// posts excluded: nothing is written for them).
    pub timeline_writes: u64,
    /// `timeline_writes` over the load plus the drain: the time the writes took.
    pub timeline_writes_per_s: f64,
    pub lag: LagOutcome,
    /// Each measured sample: (seconds from the start of the load to its acknowledgement, lag
    /// in ms), in acknowledgement order.
    pub lag_points: Vec<(f64, f64)>,
    /// From the end of the load until the last posts of every author were everywhere; None
    /// when that did not happen within the limit.
    pub drain: Option<Duration>,
    pub completeness: Completeness,
    /// `--random-followers`: the same writes as raw pipelined ZADDs, after the load.
    pub raw: Option<RawFigures>,
    /// `--kill-master-after`: the master killed and the recovery of the lag.
    pub failover: Option<FailoverFigures>,
}

/// A Redis master crashed in the middle of the load (`fanout --kill-master-after`), and how
/// long fan-out lag took to be back under 1 s.
#[derive(Clone, Debug, Default)]
pub struct FailoverFigures {
    /// `host:port` of the master killed.
    pub node: String,
    /// Follower timelines of the run on that master, of all of them.
    pub timelines: u64,
    pub of_timelines: u64,
    /// Seconds from the start of the load to the kill; None: the load ended (Ctrl-C) first.
    pub kill_s: Option<f64>,
    /// See `timelines::recovery` for the definition.
    pub recovery: crate::timelines::recovery::Recovery,
}

/// The raw baseline beside a fan-out run: as many single-member ZADDs into the same
/// timelines (filled to the cap) as fan-out made, pipelined per master, all masters at once;
/// sent per timeline (every write of a timeline in a row), and again in arrival order (post
/// after post, each to all its followers).
#[derive(Clone, Debug, Default)]
pub struct RawFigures {
    pub writes: u64,
    pub masters: usize,
    /// Per timeline: the bound with the best cache locality, which no online fan-out reaches.
    pub writes_per_s: f64,
    /// Fan-out's `timeline_writes_per_s` over `writes_per_s`.
    pub ratio: f64,
    /// In arrival order: the same pairs in the order a fan-out meets them.
    pub arrival_writes_per_s: f64,
    /// Fan-out's `timeline_writes_per_s` over `arrival_writes_per_s`: the ratio the target
    /// of issue 13 is judged by.
    pub arrival_ratio: f64,
}

/// What the follows of `follow-storm` and `fanout --random-followers` did: Follow calls accepted by post-service, and the follow events
/// fan-out applied (counted in the follower indexes, see `timelines::follows`).
#[derive(Clone, Debug, Default)]
pub struct FollowFigures {
    /// Follows the graph has (every one is sent until accepted).
    pub planned: u64,
    /// Follow calls answered OK.
    pub accepted: u64,
    /// From the first Follow to the last answer.
    pub storm: Duration,
    /// `accepted` over `storm`.
    pub accepted_per_s: f64,
    /// The Follow calls: latencies of the accepted, refusals and other errors by code.
    pub totals: Totals,
    /// Applied when the last Follow was answered.
    pub applied_at_storm_end: u64,
    /// Applied by the end of the run.
    pub applied: u64,
    /// From the first Follow until every follow was applied; None if not within the limit.
    pub all_applied: Option<Duration>,
    /// `applied` over `all_applied` (or over the whole watch when they were not all applied).
    pub applied_per_s: f64,
    /// Followers missing from their followee's index at the end (must be 0).
    pub missing: u64,
    /// Index members that are no planned follower (must be 0: the graph is the seed's).
    pub unexpected: u64,
    /// A few of them.
    pub examples: Vec<String>,
}

/// What log ingestion did, verified with QueryLogs.
#[derive(Clone, Debug, Default)]
pub struct LogsFigures {
    /// "unary" or "stream".
    pub mode: &'static str,
    pub senders: u64,
    pub calls: u64,
    pub records_per_call: u64,
    /// Records acknowledged (accepted + duplicates of calls answered OK).
    pub acked: u64,
    pub records_per_s: f64,
    /// Records of the app QueryLogs returned.
    pub found: u64,
    /// Acknowledged but not found.
    pub missing: u64,
    /// Found more than once (one per extra copy).
    pub duplicates: u64,
    /// Found with a client_record_id this run never sent.
    pub unexpected: u64,
    /// How long reading everything back took.
    pub verify: Duration,
}

impl Report {
    /// Calls answered, successfully or not.
    pub fn requests(&self) -> u64 {
        let all = self.totals.all();
        all.ok + all.errors
    }

    /// Calls answered successfully.
    pub fn ok(&self) -> u64 {
        self.totals.all().ok
    }

    /// Calls answered with an error.
    pub fn errors(&self) -> u64 {
        self.totals.all().errors
    }

    /// Calls per second over the load.
    pub fn rate(&self) -> f64 {
        self.requests() as f64 / self.totals.elapsed.as_secs_f64().max(1e-9)
    }

    /// Share of calls that succeeded, 0 to 1 (1 without calls).
    pub fn success(&self) -> f64 {
        let requests = self.requests();
        if requests == 0 {
            1.0
        } else {
            self.ok() as f64 / requests as f64
        }
    }

    /// Latency of the successful calls.
    pub fn latency(&self) -> Latency {
        self.totals.all().latency.summary()
    }

    /// Whether nothing was lost: no missing timeline entry, follower or record, no duplicate,
    /// some call succeeded (refused calls are not lost: they were never accepted). The exit code is 1 otherwise.
    pub fn passed(&self) -> bool {
        let fanout_ok = self
            .fanout
            .as_ref()
            .is_none_or(|f| f.completeness.missing == 0);
        let logs_ok = self
            .logs
            .as_ref()
            .is_none_or(|l| l.missing == 0 && l.duplicates == 0);
        let follows_ok = self
            .follows
            .as_ref()
            .is_none_or(|f| f.missing == 0 && f.unexpected == 0);
        fanout_ok && logs_ok && follows_ok && self.ok() > 0
    }
}
