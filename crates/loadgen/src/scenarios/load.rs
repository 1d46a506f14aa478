//! The load phase of `fanout`, `read` and `mixed`: one operation driven on a fresh recorder
//! under a live progress line, and the report made of what it recorded.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::now_unix_ms;
use crate::drive::{Call, Outcome, drive};
use crate::options::{Load, ScenarioKind};
use crate::report::Report;
use crate::stats::{Progress, Recorder, Totals};

/// What a load recorded, once its last call was answered.
pub struct Measured {
    /// When the load started, in Unix ms (the report's `started_unix_ms`).
    pub started_unix_ms: u64,
    /// When the load started, on tokio's clock.
    pub started: Instant,
    /// When the last call was answered.
    pub ended: Instant,
    pub totals: Totals,
}

/// Runs `op` as `load` says (see [`drive`]) with the progress line on stderr.
pub async fn measure<F, Fut>(load: &Load, stop: &CancellationToken, op: F) -> Measured
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let recorder = Arc::new(Recorder::new());
    let started_unix_ms = now_unix_ms();
    let progress = Progress::load(recorder.clone(), Some(load.duration));
    drive(load, &recorder, stop, op).await;
    let ended = Instant::now();
    let totals = recorder.finish();
    progress.stop().await;
    Measured {
        started_unix_ms,
        started: recorder.started(),
        ended,
        totals,
    }
}

impl Measured {
    /// The run's report, without fan-out or log figures and without notes: the scenario adds
    /// those it has.
    pub fn report(
        self,
        scenario: ScenarioKind,
        run_id: &str,
        shape: String,
        options: Vec<(&'static str, Value)>,
    ) -> Report {
        Report {
            scenario,
            run_id: run_id.to_owned(),
            started_unix_ms: self.started_unix_ms,
            shape,
            options,
            totals: self.totals,
            fanout: None,
            logs: None,
            follows: None,
            notes: Vec::new(),
        }
    }
}
