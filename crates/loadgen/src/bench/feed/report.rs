//! The table `bench feed` prints: each run's rate and latency, the service's closed-loop rate
//! as a fraction of the raw one, and the design's targets, met or not.

use super::FeedBench;
use super::data::{CAP, POSTS, Setup};
use super::load::PAGE;
use crate::report::text::count;
use crate::stats::Totals;

/// design.md: "feed reads: p99 under 10 ms at 5,000 reads/s, at least 30% of raw ZREVRANGE +
/// GET".
const TARGET_P99_MS: f64 = 10.0;
const TARGET_RATE: u64 = 5_000;
const TARGET_RATIO: f64 = 0.30;
/// The fixed-rate run kept its schedule if it answered every read without error, at least at
/// this share of the rate (the last reads' latency stretches the run a little).
const KEPT: f64 = 0.98;

/// Everything measured, in the order it ran.
pub struct Report {
    pub setup: Setup,
    pub raw: Totals,
    pub closed: Totals,
    pub fixed: Totals,
}

/// Answered reads per second over a run.
fn rate(totals: &Totals) -> f64 {
    totals.all().ok as f64 / totals.elapsed.as_secs_f64().max(1e-9)
}

fn errors(totals: &Totals) -> u64 {
    totals.all().errors
}

impl Report {
    /// Errors over every run.
    pub fn errors(&self) -> u64 {
        errors(&self.raw) + errors(&self.closed) + errors(&self.fixed)
    }

    pub fn print(&self, options: &FeedBench, channels: usize) {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!();
        println!(
            "feed read benchmark: 3-master Redis Cluster, feed-read-service (perf build) and the \
             load on {cores} cores, {} s per run",
            options.duration
        );
        println!(
            "data: {} users, each timeline {CAP} entries + sentinel drawn from {POSTS} cached \
             posts (~140-byte bodies), written in {:.1} s; pages of {PAGE}, random users",
            self.setup.users,
            self.setup.took.as_secs_f64()
        );
        println!();
        println!(
            "  {:<60} {:>9} {:>7} {:>7} {:>8} {:>7}",
            "run", "reads/s", "p50 ms", "p99 ms", "p99.9 ms", "errors"
        );
        let rows = [
            (
                format!(
                    "raw ZREVRANGE 0 {} + pipelined {PAGE} GET, {} tasks",
                    PAGE - 1,
                    options.clients
                ),
                &self.raw,
            ),
            (
                format!(
                    "service GetFeed closed loop, {} tasks, {channels} connections",
                    options.clients
                ),
                &self.closed,
            ),
            (
                format!(
                    "service GetFeed at a fixed {}/s (achieved)",
                    count(options.rate as f64)
                ),
                &self.fixed,
            ),
        ];
        for (label, totals) in rows {
            let latency = totals.all().latency;
            println!(
                "  {label:<60} {:>9} {:>7} {:>7} {:>8} {:>7}",
                count(rate(totals)),
                ms(latency.quantile_ms(0.50)),
                ms(latency.quantile_ms(0.99)),
                ms(latency.quantile_ms(0.999)),
                errors(totals)
            );
        }
        println!(
            "  fixed rate: reads sent late by p50 {} ms, p99 {} ms (tokio's 1 ms timer; counted \
             in the latency)",
            ms(self.fixed.send_lag.quantile_ms(0.50)),
            ms(self.fixed.send_lag.quantile_ms(0.99))
        );
        for (name, totals) in [
            ("raw", &self.raw),
            ("closed loop", &self.closed),
            ("fixed rate", &self.fixed),
        ] {
            if let Some((kind, error)) = totals.errors.iter().next() {
                println!("  first error ({name}): {kind}: {}", error.first_message);
            }
        }
        println!();
        let ratio = self.ratio();
        println!("  service closed loop / raw, reads/s          {ratio:.2}");
        println!();
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        let fixed_rate = rate(&self.fixed);
        let p99 = self.fixed.all().latency.quantile_ms(0.99);
        let p99 = p99.unwrap_or(f64::INFINITY);
        let kept = fixed_rate >= KEPT * options.rate as f64 && errors(&self.fixed) == 0;
        println!(
            "  target: p99 under {TARGET_P99_MS} ms at {TARGET_RATE} reads/s: {} (p99 {p99:.2} \
             ms at {fixed_rate:.0}/s{})",
            if options.rate == TARGET_RATE {
                verdict(p99 < TARGET_P99_MS && kept)
            } else {
                "not measured (--rate differs)"
            },
            if kept { "" } else { ", schedule NOT kept" }
        );
        println!(
            "  target: at least {TARGET_RATIO:.2} of raw ZREVRANGE + GET: {} ({ratio:.2})",
            verdict(ratio >= TARGET_RATIO)
        );
    }

    /// Closed-loop service reads/s over raw reads/s.
    pub fn ratio(&self) -> f64 {
        rate(&self.closed) / rate(&self.raw).max(1e-9)
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}
