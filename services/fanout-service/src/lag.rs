//! Fan-out lag: from a change's commit in post-service to its last timeline write here.
//! Each event records it on its span and in the `feedline.fanout.lag` histogram (seconds, with
//! buckets from 5 ms to 2 min); this module also keeps a window of samples and logs a summary
//! periodically, so the lag is visible without any backend.

use std::sync::{Mutex, OnceLock};

use opentelemetry::metrics::Histogram;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use feedline_service_kit::CancellationToken;

/// Samples kept per reporting window; beyond this, samples are dropped (the summary says so).
const MAX_SAMPLES: usize = 100_000;

static WINDOW: Mutex<Window> = Mutex::new(Window {
    samples: Vec::new(),
    dropped: 0,
});

struct Window {
    samples: Vec<u32>,
    dropped: u64,
}

/// Lag since a commit time, or `None` for a malformed timestamp.
pub fn since(commit: &feedline_proto::prost_types::Timestamp) -> Option<Duration> {
    let committed = feedline_proto::timestamp_to_millis(commit)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
    // Clocks of two hosts may disagree a little: a negative lag counts as zero.
    Some(Duration::from_millis(
        now.saturating_sub(committed).max(0) as u64
    ))
}

/// Bucket bounds of the lag histogram, in seconds: fine below a second (the admission bound's
/// default is 500 ms), coarse up to the minutes of an outage.
const LAG_BOUNDS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
];

/// The lag histogram, from the global meter provider (a no-op one when export is off). Made on
/// first use, which comes after telemetry is installed.
fn histogram() -> &'static Histogram<f64> {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    HISTOGRAM.get_or_init(|| {
        opentelemetry::global::meter("fanout-service")
            .f64_histogram("feedline.fanout.lag")
            .with_unit("s")
            .with_description("time from a change's commit to its last timeline write")
            .with_boundaries(LAG_BOUNDS.to_vec())
            .build()
    })
}

/// Records one event's lag.
pub fn record(lag: Duration) {
    histogram().record(lag.as_secs_f64(), &[]);
    let mut window = WINDOW.lock().unwrap_or_else(|p| p.into_inner());
    if window.samples.len() < MAX_SAMPLES {
        window
            .samples
            .push(lag.as_millis().min(u128::from(u32::MAX)) as u32);
    } else {
        window.dropped += 1;
    }
}

/// A window's summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Events recorded.
    pub events: u64,
    /// Median lag, ms.
    pub p50_ms: u32,
    /// 99th percentile lag, ms.
    pub p99_ms: u32,
    /// Largest lag, ms.
    pub max_ms: u32,
}

/// Takes the samples recorded since the last call and summarises them.
pub fn take_summary() -> Option<Summary> {
    let (mut samples, dropped) = {
        let mut window = WINDOW.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = std::mem::take(&mut window.dropped);
        (std::mem::take(&mut window.samples), dropped)
    };
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some(Summary {
        events: samples.len() as u64 + dropped,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: samples[samples.len() - 1],
    })
}

/// Logs a lag summary every `interval` in which events were applied, until shutdown.
pub async fn report(interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Some(s) = take_summary() {
            tracing::info!(
                events = s.events,
                lag_p50_ms = s.p50_ms,
                lag_p99_ms = s.p99_ms,
                lag_max_ms = s.max_ms,
                "fanout lag"
            );
        }
    }
}
