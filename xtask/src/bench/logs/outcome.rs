//! What one run measured: records acknowledged (or rows written), over how long, the latency of
//! each call, and the retries the service asked for.

use std::time::Duration;

/// The figures of one run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Rows committed (raw) or records acknowledged (service: accepted + duplicates).
    pub records: u64,
    /// From the first send to the last acknowledgement.
    pub elapsed: Duration,
    /// One per acknowledged call or stream batch, from its first send (or, at a fixed rate, from
    /// when it was due) to its acknowledgement, retries included: what the sender waited.
    pub latencies: Vec<Duration>,
    /// RESOURCE_EXHAUSTED answers (the ingest queue was full), each retried after its delay.
    pub exhausted: u64,
    /// UNAVAILABLE answers (the database was unreachable), each retried after its delay.
    pub unavailable: u64,
}

impl Outcome {
    /// Adds the figures of one sender; `elapsed` is set by the caller for the whole run.
    pub fn absorb(&mut self, other: Outcome) {
        self.records += other.records;
        self.latencies.extend(other.latencies);
        self.exhausted += other.exhausted;
        self.unavailable += other.unavailable;
    }

    /// Records (or rows) per second over the run.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0.5 = median) in milliseconds; None without samples.
    pub fn latency_ms(&mut self, q: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        Some(self.latencies[index].as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_rate() {
        let mut outcome = Outcome {
            records: 500,
            elapsed: Duration::from_secs(2),
            latencies: (1..=100).rev().map(Duration::from_millis).collect(),
            ..Outcome::default()
        };
        assert_eq!(outcome.rate(), 250.0);
        assert_eq!(outcome.latency_ms(0.5), Some(51.0));
        assert_eq!(outcome.latency_ms(0.99), Some(99.0));
        assert_eq!(Outcome::default().latency_ms(0.5), None);
    }
}
