//! What the load did, shared by every virtual user: per operation, answers and latencies;
//! errors by kind; retries; and a per-second time series closed by [`Recorder::tick`]. Times
//! are tokio's, so tests with a paused clock see exact latencies.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::histogram::Histogram;

/// One operation's answers.
#[derive(Clone, Debug, Default)]
pub struct OpStats {
    pub ok: u64,
    pub errors: u64,
    /// Latency of the successful calls.
    pub latency: Histogram,
}

/// One kind of error ("CreatePost Unavailable"): how often, the first message, and how long
/// the failed calls took (a refusal must be fast: RESOURCE_EXHAUSTED's latency matters).
#[derive(Clone, Debug)]
pub struct ErrorKind {
    pub count: u64,
    pub first_message: String,
    /// Latency of the errors recorded with one ([`Recorder::error_after`]).
    pub latency: Histogram,
}

/// One point of the time series: the calls answered within a window of about a second.
#[derive(Clone, Debug)]
pub struct Second {
    /// The end of the window, in seconds since the load started.
    pub t_s: f64,
    /// The window's length in seconds (the last one is usually shorter).
    pub span_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// What a progress line shows.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub requests: u64,
    pub errors: u64,
    /// Answers per second over the last window.
    pub rate: f64,
    pub p99_ms: Option<f64>,
}

/// Everything recorded, once the load is over.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// By operation name, e.g. "CreatePost".
    pub ops: BTreeMap<&'static str, OpStats>,
    /// By kind, e.g. "GetFeed Unavailable".
    pub errors: BTreeMap<String, ErrorKind>,
    /// Calls sent again after RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED (not
    /// counted as errors).
    pub retries: u64,
    /// The same retries by the code that asked for them ("ResourceExhausted").
    pub retried: BTreeMap<String, u64>,
    /// Open loop only: how late each call left after it was due (a full pool, a coarse timer).
    pub send_lag: Histogram,
    pub series: Vec<Second>,
    /// From the start of the load to [`Recorder::finish`], called once the last call is
    /// answered.
    pub elapsed: Duration,
}

impl Totals {
    /// Every operation's answers together.
    pub fn all(&self) -> OpStats {
        let mut all = OpStats::default();
        for op in self.ops.values() {
            all.ok += op.ok;
            all.errors += op.errors;
            all.latency.merge(&op.latency);
        }
        all
    }
}

/// Shared by the virtual users; the lock is held only to add a number.
pub struct Recorder {
    started: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    totals: Totals,
    window: Window,
}

struct Window {
    started: Instant,
    ok: u64,
    errors: u64,
    latency: Histogram,
}

impl Window {
    fn new(started: Instant) -> Self {
        Self {
            started,
            ok: 0,
            errors: 0,
            latency: Histogram::default(),
        }
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Self {
        let started = Instant::now();
        Self {
            started,
            inner: Mutex::new(Inner {
                totals: Totals::default(),
                window: Window::new(started),
            }),
        }
    }

    /// When the load started.
    pub fn started(&self) -> Instant {
        self.started
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking VU cannot leave the numbers half-updated: each update is one statement.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A successful call of `op` that took `latency`.
    pub fn ok(&self, op: &'static str, latency: Duration) {
        let mut inner = self.lock();
        let stats = inner.totals.ops.entry(op).or_default();
        stats.ok += 1;
        stats.latency.record(latency);
        inner.window.ok += 1;
        inner.window.latency.record(latency);
    }

    /// A failed call of `op`; `kind` groups errors in the summary ("Unavailable").
    pub fn error(&self, op: &'static str, kind: &str, message: &str) {
        self.record_error(op, kind, message, None);
    }

    /// A failed call of `op` that took `latency` to fail.
    pub fn error_after(&self, op: &'static str, kind: &str, message: &str, latency: Duration) {
        self.record_error(op, kind, message, Some(latency));
    }

    fn record_error(&self, op: &'static str, kind: &str, message: &str, latency: Option<Duration>) {
        let mut inner = self.lock();
        inner.totals.ops.entry(op).or_default().errors += 1;
        inner.window.errors += 1;
        let key = format!("{op} {kind}");
        let error = inner.totals.errors.entry(key).or_insert_with(|| ErrorKind {
            count: 0,
            first_message: message.to_owned(),
            latency: Histogram::default(),
        });
        error.count += 1;
        if let Some(latency) = latency {
            error.latency.record(latency);
        }
    }

    /// A call sent again after an answer of `kind` (the service asked for it, or its outcome
    /// is unknown).
    pub fn retry(&self, kind: &str) {
        let mut inner = self.lock();
        inner.totals.retries += 1;
        *inner.totals.retried.entry(kind.to_owned()).or_default() += 1;
    }

    /// An open-loop call that left `lag` after it was due.
    pub fn send_lag(&self, lag: Duration) {
        self.lock().totals.send_lag.record(lag);
    }

    /// Closes the current window into the time series and says where the load is.
    pub fn tick(&self) -> Snapshot {
        let now = Instant::now();
        let mut inner = self.lock();
        let window = std::mem::replace(&mut inner.window, Window::new(now));
        let span = now.duration_since(window.started).as_secs_f64();
        inner.totals.series.push(Second {
            t_s: now.duration_since(self.started).as_secs_f64(),
            span_s: span,
            ok: window.ok,
            errors: window.errors,
            p50_ms: window.latency.quantile_ms(0.50),
            p99_ms: window.latency.quantile_ms(0.99),
        });
        let (mut requests, mut errors) = (0, 0);
        let mut latency = Histogram::default();
        for op in inner.totals.ops.values() {
            requests += op.ok + op.errors;
            errors += op.errors;
            latency.merge(&op.latency);
        }
        Snapshot {
            elapsed: now.duration_since(self.started),
            requests,
            errors,
            rate: (window.ok + window.errors) as f64 / span.max(1e-9),
            p99_ms: latency.quantile_ms(0.99),
        }
    }

    /// The last window closed (when it holds anything) and everything recorded.
    pub fn finish(&self) -> Totals {
        let has_window = {
            let inner = self.lock();
            inner.window.ok + inner.window.errors > 0
        };
        if has_window {
            self.tick();
        }
        let mut inner = self.lock();
        let mut totals = std::mem::take(&mut inner.totals);
        totals.elapsed = self.started.elapsed();
        totals
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_totals() {
        let recorder = Recorder::new();
        recorder.ok("GetFeed", Duration::from_millis(2));
        recorder.ok("GetFeed", Duration::from_millis(4));
        recorder.error("GetFeed", "Unavailable", "down");
        recorder.error("GetFeed", "Unavailable", "still down");
        let first = recorder.tick();
        assert_eq!(first.requests, 4);
        assert_eq!(first.errors, 2);
        assert_eq!(first.p99_ms, Some(4.0));
        recorder.ok("CreatePost", Duration::from_millis(10));
        recorder.error_after(
            "CreatePost",
            "ResourceExhausted",
            "full",
            Duration::from_millis(3),
        );
        recorder.retry("Unavailable");
        let totals = recorder.finish();
        assert_eq!(totals.series.len(), 2);
        assert_eq!((totals.series[0].ok, totals.series[0].errors), (2, 2));
        assert_eq!(totals.series[1].ok, 1);
        assert_eq!(totals.series[1].p50_ms, Some(10.0));
        assert_eq!(totals.retries, 1);
        assert_eq!(totals.retried["Unavailable"], 1);
        let all = totals.all();
        assert_eq!((all.ok, all.errors), (3, 3));
        assert_eq!(all.latency.max_ms(), Some(10.0));
        let kind = &totals.errors["GetFeed Unavailable"];
        assert_eq!((kind.count, kind.first_message.as_str()), (2, "down"));
        assert_eq!(kind.latency.count(), 0);
        let refused = &totals.errors["CreatePost ResourceExhausted"];
        assert_eq!(refused.latency.max_ms(), Some(3.0));
    }

    #[test]
    fn an_empty_last_window_is_not_a_point() {
        let recorder = Recorder::new();
        recorder.ok("Ingest", Duration::from_millis(1));
        recorder.tick();
        let totals = recorder.finish();
        assert_eq!(totals.series.len(), 1);
    }
}
