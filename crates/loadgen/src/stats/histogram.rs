//! A latency histogram in microseconds with bounded memory: exact below 128 µs, log-linear
//! above (64 buckets per power of two, so a quantile is within 1/64 of the true value); the
//! count, sum, minimum and maximum are exact.

use std::time::Duration;

/// Buckets below this value hold one microsecond each.
const EXACT: u64 = 128;
/// Buckets per power of two above `EXACT`.
const PER_OCTAVE: u64 = 64;
/// Enough buckets for every u64 (the highest index is 58 * 64 + 63).
const BUCKETS: usize = 59 * PER_OCTAVE as usize;

/// Latency summary in milliseconds; every field is None without samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub avg: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// Counts of latencies by bucket.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_us: u128,
    min_us: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }
}

impl Histogram {
    /// Adds one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_us(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds one latency in microseconds.
    pub fn record_us(&mut self, us: u64) {
        self.counts[index(us)] += 1;
        self.count += 1;
        self.sum_us += u128::from(us);
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean in milliseconds.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64 / 1000.0)
    }

    /// The largest sample in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max_us as f64 / 1000.0)
    }

    /// The `q` quantile (0.5 = median) in milliseconds, by nearest rank: the smallest sample
    /// with at least `q` of all samples at or below it.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bounds(i);
                let value = low + (high - low) / 2;
                return Some(value.clamp(self.min_us, self.max_us) as f64 / 1000.0);
            }
        }
        self.max_ms()
    }

    /// avg, p50, p95, p99 and max.
    pub fn summary(&self) -> Latency {
        Latency {
            avg: self.mean_ms(),
            p50: self.quantile_ms(0.50),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            max: self.max_ms(),
        }
    }
}

/// The bucket of `us`.
fn index(us: u64) -> usize {
    if us < EXACT {
        return us as usize;
    }
    // `us >> shift` falls in 64..128: the top 7 bits of the value.
    let shift = 63 - u64::from(us.leading_zeros()) - 6;
    ((shift + 1) * PER_OCTAVE + ((us >> shift) - PER_OCTAVE)) as usize
}

/// The lowest and highest value of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < EXACT {
        return (i, i);
    }
    let shift = i / PER_OCTAVE - 1;
    let top = i % PER_OCTAVE + PER_OCTAVE;
    let low = top << shift;
    (low, low + ((1u64 << shift) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for us in (1..=100).rev() {
            h.record_us(us);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_ms(0.5), Some(0.050));
        assert_eq!(h.quantile_ms(0.95), Some(0.095));
        assert_eq!(h.quantile_ms(0.99), Some(0.099));
        assert_eq!(h.quantile_ms(1.0), Some(0.100));
        assert_eq!(h.quantile_ms(0.0), Some(0.001));
        assert_eq!(h.mean_ms(), Some(0.0505));
        assert_eq!(h.max_ms(), Some(0.1));
    }

    #[test]
    fn empty_has_no_figures() {
        let h = Histogram::default();
        assert_eq!(h.summary(), Latency::default());
        assert_eq!(h.quantile_ms(0.5), None);
    }

    #[test]
    fn buckets_tile_the_range() {
        let mut next = 0;
        for i in 0..BUCKETS {
            let (low, high) = bounds(i);
            assert_eq!(low, next, "bucket {i}");
            assert!(high >= low);
            assert_eq!(index(low), i);
            assert_eq!(index(high), i);
            next = high.wrapping_add(1);
        }
        assert_eq!(next, 0, "the last bucket ends at u64::MAX");
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn large_quantiles_are_within_one_in_64() {
        let mut h = Histogram::default();
        // 1 ms .. 10 s in 1 ms steps.
        for ms in 1..=10_000u64 {
            h.record(Duration::from_millis(ms));
        }
        for (q, exact) in [(0.5, 5000.0), (0.95, 9500.0), (0.99, 9900.0)] {
            let got = h.quantile_ms(q).unwrap();
            assert!((got - exact).abs() / exact <= 1.0 / 64.0, "q {q}: {got}");
        }
        assert_eq!(h.max_ms(), Some(10_000.0));
        assert_eq!(h.quantile_ms(1.0), Some(10_000.0));
    }

    #[test]
    fn merge_adds_counts_and_extremes() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record_us(10);
        b.record_us(5_000_000);
        b.record_us(20);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile_ms(0.0), Some(0.010));
        assert_eq!(a.max_ms(), Some(5000.0));
        assert_eq!(a.quantile_ms(0.5), Some(0.020));
    }
}
