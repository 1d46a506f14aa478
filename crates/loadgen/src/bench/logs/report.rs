//! The table `bench logs` prints: each run's rate and latency, the service's rates as fractions
//! of the raw ones, and the count of stored rows against acknowledged records.

use super::LogsBench;
use super::database::BenchDatabase;
use crate::report::text::count;
use crate::scenarios::logs::app::CreatedApp;
use crate::stats::Totals;

/// One row of the table.
pub struct Run {
    pub label: String,
    /// A few words for the ratio lines.
    pub short: &'static str,
    /// One answered call per acknowledged call, stream batch or raw statement.
    pub totals: Totals,
    /// Records (rows) in each answered call.
    pub per_call: u64,
    /// Through the service (it can ask for retries), not straight into PostgreSQL.
    pub service: bool,
}

impl Run {
    /// Records acknowledged (service) or rows committed (raw).
    pub fn records(&self) -> u64 {
        self.totals.all().ok * self.per_call
    }

    /// Records (or rows) per second over the run.
    pub fn rate(&self) -> f64 {
        self.records() as f64 / self.totals.elapsed.as_secs_f64().max(1e-9)
    }

    fn retried(&self, kind: &str) -> u64 {
        self.totals.retried.get(kind).copied().unwrap_or(0)
    }
}

/// An app the service runs wrote to: what it acknowledged and what is stored.
pub struct AppCount {
    pub name: String,
    pub app_id: i64,
    pub acknowledged: u64,
    pub stored: u64,
}

/// Everything measured.
pub struct Report {
    server_version: String,
    /// In the order they ran: raw COPY 1, raw COPY 2, raw INSERT 2, unary, stream, fixed rate.
    pub runs: Vec<Run>,
    pub apps: Vec<AppCount>,
}

/// The ratios printed: (numerator run, denominator run) by position in `runs`.
const RATIOS: &[(usize, usize)] = &[(3, 1), (4, 1), (3, 2), (4, 2), (1, 0)];

impl Report {
    pub fn new(db: &BenchDatabase) -> Self {
        Self {
            server_version: db.server_version.clone(),
            runs: Vec::new(),
            apps: Vec::new(),
        }
    }

    /// Adds a run against the service, whose records went to `app` (plus `extra` earlier ones).
    pub fn service_run(&mut self, run: Run, app: &CreatedApp, extra: u64) {
        self.apps.push(AppCount {
            name: app.name.clone(),
            app_id: app.app_id,
            acknowledged: run.records() + extra,
            stored: 0,
        });
        self.runs.push(run);
    }

    /// Records acknowledged but not stored, over every app.
    pub fn lost(&self) -> u64 {
        self.apps
            .iter()
            .map(|a| a.acknowledged.saturating_sub(a.stored))
            .sum()
    }

    pub fn print(&self, options: &LogsBench) {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!();
        println!(
            "log ingest benchmark: PostgreSQL {}, {cores} cores shared by the database, the \
             service and the load, {} s per run",
            self.server_version, options.duration
        );
        println!(
            "records: ~150-byte message, 2 attributes, levels INFO/WARN/DEBUG, time now, unique \
             client_record_id; tables with log_records' schema and indexes"
        );
        println!(
            "latency: per call, stream batch or raw statement, from first send (fixed rate: \
             from when due) to commit, retries included"
        );
        println!();
        println!(
            "  {:<52} {:>10} {:>8} {:>8}  retried",
            "run", "records/s", "p50 ms", "p99 ms"
        );
        for run in &self.runs {
            let latency = run.totals.all().latency;
            let rate = count(run.rate());
            let p50 = ms(latency.quantile_ms(0.50));
            let p99 = ms(latency.quantile_ms(0.99));
            let retried = if run.service {
                format!(
                    "{} RESOURCE_EXHAUSTED, {} UNAVAILABLE",
                    run.retried("ResourceExhausted"),
                    run.retried("Unavailable")
                )
            } else {
                String::new()
            };
            println!(
                "  {:<52} {rate:>10} {p50:>8} {p99:>8}  {retried}",
                run.label
            );
        }
        println!();
        for &(top, bottom) in RATIOS {
            if let (Some(top), Some(bottom)) = (self.runs.get(top), self.runs.get(bottom)) {
                let ratio = format!("{} / {}", top.short, bottom.short);
                println!(
                    "  {ratio:<52} {:>10.2}",
                    top.rate() / bottom.rate().max(1e-9)
                );
            }
        }
        println!();
        for app in &self.apps {
            println!(
                "  app {:<14} acknowledged {:>12}  stored {:>12}",
                app.name,
                count(app.acknowledged as f64),
                count(app.stored as f64)
            );
        }
        let extra: u64 = self
            .apps
            .iter()
            .map(|a| a.stored.saturating_sub(a.acknowledged))
            .sum();
        println!(
            "  lost: {}  (stored but never acknowledged: {extra})",
            self.lost()
        );
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}
