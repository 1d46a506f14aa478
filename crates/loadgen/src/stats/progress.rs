//! The live progress line on stderr: redrawn in place once a second on a terminal; on
//! anything else (a log file, CI) printed as a plain line every 5 s.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::recorder::{Recorder, Snapshot};
use crate::report::text::{count, ms};

/// Seconds between plain lines when stderr is not a terminal.
const PLAIN_EVERY: u64 = 5;

/// A running progress line; [`Progress::stop`] ends it.
pub struct Progress {
    /// Cancelled by `stop`; the task then prints its last line and ends.
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Progress {
    /// Calls `line` once a second (it may do work, such as closing a window of the time series)
    /// and shows what it returns.
    pub fn start(mut line: impl FnMut() -> String + Send + 'static) -> Self {
        let stop = CancellationToken::new();
        let cancelled = stop.clone();
        let task = tokio::spawn(async move {
            let terminal = std::io::stderr().is_terminal();
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks.tick().await;
            let mut n = 0u64;
            let mut shown = false;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = cancelled.cancelled() => break,
                }
                n += 1;
                let text = line();
                let mut err = std::io::stderr().lock();
                if terminal {
                    let _ = write!(err, "\r{text}\x1b[K");
                    shown = true;
                } else if n.is_multiple_of(PLAIN_EVERY) {
                    let _ = writeln!(err, "{text}");
                }
                let _ = err.flush();
            }
            if shown {
                let _ = writeln!(std::io::stderr());
            }
        });
        Self { stop, task }
    }

    /// The progress of a load recorded by `recorder`, planned to last `planned`.
    pub fn load(recorder: Arc<Recorder>, planned: Option<Duration>) -> Self {
        Self::start(move || load_line(&recorder.tick(), planned))
    }

    /// "label done/total", for setup steps counted in `done`.
    pub fn steps(label: String, done: Arc<AtomicU64>, total: u64) -> Self {
        Self::start(move || {
            format!(
                "{label}: {} of {}",
                count(done.load(Ordering::Relaxed) as f64),
                count(total as f64)
            )
        })
    }

    /// Ends the line (and waits for its task).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// `  12s/60s  requests 12,345  rate 1,020/s  errors 0  p99 45.2 ms`
pub fn load_line(snapshot: &Snapshot, planned: Option<Duration>) -> String {
    let elapsed = snapshot.elapsed.as_secs();
    let of = planned.map_or_else(String::new, |p| format!("/{}s", p.as_secs()));
    format!(
        "  {elapsed:>4}s{of}  requests {}  rate {}/s  errors {}  p99 {}",
        count(snapshot.requests as f64),
        count(snapshot.rate),
        count(snapshot.errors as f64),
        snapshot.p99_ms.map_or_else(|| "-".to_owned(), ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_line_shows_the_figures() {
        let snapshot = Snapshot {
            elapsed: Duration::from_millis(12_400),
            requests: 12_345,
            errors: 2,
            rate: 1020.4,
            p99_ms: Some(45.23),
        };
        assert_eq!(
            load_line(&snapshot, Some(Duration::from_secs(60))),
            "    12s/60s  requests 12,345  rate 1,020/s  errors 2  p99 45.2 ms"
        );
    }
}
