//! The scenarios, one file each, and what they share: posting (`posting`), the load phase
//! (`load`), the fan-out measurements (`measure`), the random-followers world of
//! `fanout --random-followers` and `follow-storm` (`random`), and the Redis master killed
//! mid-load by `fanout --kill-master-after` (`failover`).

pub mod failover;
pub mod fanout;
pub mod follow_storm;
pub mod load;
pub mod logs;
pub mod measure;
pub mod mixed;
pub mod posting;
pub mod random;
pub mod read;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::connect::Service;
use crate::options::{Load, Options, Target};

/// What every scenario gets.
pub struct Context<'a> {
    pub options: &'a Options,
    /// Cancelled (Ctrl-C) to end the load early; the checks after it still run.
    pub stop: CancellationToken,
    /// In every handle and app name the run creates.
    pub run_id: String,
}

impl Context<'_> {
    /// post-service of the target.
    pub fn post(&self) -> Service<'_> {
        self.service("post-service", &self.options.target.post)
    }

    /// fanout-service of the target.
    pub fn fanout(&self) -> Service<'_> {
        self.service("fanout-service", &self.options.target.fanout)
    }

    /// feed-read-service of the target.
    pub fn feed(&self) -> Service<'_> {
        self.service("feed-read-service", &self.options.target.feed)
    }

    /// log-ingest-service of the target.
    pub fn logs(&self) -> Service<'_> {
        self.service("log-ingest-service", &self.options.target.logs)
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.options.target
    }

    fn service<'a>(&'a self, name: &'static str, url: &'a str) -> Service<'a> {
        Service {
            name,
            url,
            token: self.options.target.token.as_deref(),
        }
    }
}

/// "500 VUs, closed loop, 60 s" or "open loop at 200/s (at most 500 in flight), 60 s".
pub fn describe_load(load: &Load) -> String {
    match load.rate {
        None => format!(
            "{} VUs, closed loop, {} s",
            load.vus,
            load.duration.as_secs()
        ),
        Some(rate) => format!(
            "open loop at {rate}/s (at most {} in flight), {} s",
            load.vus,
            load.duration.as_secs()
        ),
    }
}

/// The load's options for the JSON report.
pub fn load_options(load: &Load) -> Vec<(&'static str, Value)> {
    vec![
        ("vus", json!(load.vus)),
        ("duration_s", json!(load.duration.as_secs())),
        ("rate", json!(load.rate)),
    ]
}

/// Now in Unix ms.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
