//! The summary printed at the end, in the spirit of k6's: one dotted line per figure.

use std::fmt::Write as _;

use super::Report;
use super::sections::{failover_section, follow_section};
use crate::stats::{Latency, Totals};

const LABEL: usize = 26;

/// `1234567.8` as `1,234,568`.
pub fn count(value: f64) -> String {
    if !value.is_finite() {
        return "-".to_owned();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value.round() < 0.0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Milliseconds to read at a glance: `0.84 ms`, `45.2 ms`, `1.23 s`.
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 1000.0 {
        format!("{value:.1} ms")
    } else {
        format!("{:.2} s", value / 1000.0)
    }
}

pub(super) fn opt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), ms)
}

/// `avg=12.3 ms  p50=10.1 ms  p95=...`
pub fn latency_line(latency: &Latency) -> String {
    format!(
        "avg={}  p50={}  p95={}  p99={}  max={}",
        opt_ms(latency.avg),
        opt_ms(latency.p50),
        opt_ms(latency.p95),
        opt_ms(latency.p99),
        opt_ms(latency.max)
    )
}

/// A titled group of (label, value) rows: the text summary and the HTML table both show these.
pub struct Section {
    pub title: Option<String>,
    pub rows: Vec<(String, String)>,
}

impl Section {
    pub(super) fn new(title: Option<&str>) -> Self {
        Self {
            title: title.map(str::to_owned),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.rows.push((label.into(), value.into()));
    }

    /// A row under the one before it: its label indented.
    pub(super) fn detail(&mut self, label: &str, value: impl Into<String>) {
        self.row(format!("  {label}"), value);
    }
}

/// Every figure of `report`, grouped.
pub fn sections(report: &Report) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut run = Section::new(None);
    run.row(
        "scenario",
        format!("{} (run {})", report.scenario.name(), report.run_id),
    );
    run.row("shape", report.shape.clone());
    run.row(
        "duration",
        format!("{:.1} s", report.totals.elapsed.as_secs_f64()),
    );
    sections.push(run);

    let mut calls = Section::new(None);
    calls.row(
        "requests",
        format!(
            "{}   {}/s",
            count(report.requests() as f64),
            count(report.rate())
        ),
    );
    calls.row(
        "succeeded",
        format!(
            "{:.2}%   {} of {}",
            report.success() * 100.0,
            count(report.ok() as f64),
            count(report.requests() as f64)
        ),
    );
    calls.row("errors", count(report.errors() as f64));
    if report.totals.retries > 0 {
        calls.row(
            "retries",
            format!(
                "{} (calls sent again after RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED)",
                count(report.totals.retries as f64)
            ),
        );
    }
    calls.row("latency", latency_line(&report.latency()));
    if report.totals.ops.len() > 1 {
        for (op, stats) in &report.totals.ops {
            calls.detail(
                op,
                format!(
                    "{} ok  {} errors  p50={}  p99={}",
                    count(stats.ok as f64),
                    count(stats.errors as f64),
                    opt_ms(stats.latency.quantile_ms(0.5)),
                    opt_ms(stats.latency.quantile_ms(0.99))
                ),
            );
        }
    }
    error_rows(&mut calls, &report.totals);
    sections.push(calls);

    if let Some(fanout) = &report.fanout {
        let mut s = Section::new(Some("fan-out"));
        s.row(
            "posts",
            format!(
                "{} acknowledged during the load (+{} before it)",
                count(fanout.posts as f64),
                count(fanout.setup_posts as f64)
            ),
        );
        s.row(
            "timeline writes",
            format!(
                "{}   {}/s (over the load and the drain)",
                count(fanout.timeline_writes as f64),
                count(fanout.timeline_writes_per_s)
            ),
        );
        let lag = fanout.lag.lag.summary();
        let unseen = if fanout.lag.unseen > 0 {
            format!(
                ", {} not seen in every timeline: trimmed by newer posts first",
                fanout.lag.unseen
            )
        } else {
            String::new()
        };
        s.row(
            "fan-out lag",
            format!(
                "p50={}  p99={}  max={}  ({} sampled posts{unseen})",
                opt_ms(lag.p50),
                opt_ms(lag.p99),
                opt_ms(lag.max),
                count(fanout.lag.lag.count() as f64),
            ),
        );
        s.row(
            "drain",
            fanout.drain.map_or_else(
                || "not drained within the limit".to_owned(),
                |d| ms(d.as_secs_f64() * 1000.0),
            ),
        );
        let c = &fanout.completeness;
        let checked = format!(
            "{} checked in {} timelines",
            count(c.checked as f64),
            count(c.timelines as f64)
        );
        missing_rows(&mut s, "missing entries", c.missing, &checked, &c.examples);
        if let Some(raw) = &fanout.raw {
            s.row(
                "raw ZADD baseline",
                format!(
                    "{}   {}/s (the same writes pipelined per master, {} masters at once, \
                     timeline by timeline)",
                    count(raw.writes as f64),
                    count(raw.writes_per_s),
                    raw.masters
                ),
            );
            s.row("fan-out / raw", format!("{:.2}", raw.ratio));
            s.row(
                "raw, arrival order",
                format!(
                    "{}/s (the same writes, post after post as acknowledged)",
                    count(raw.arrival_writes_per_s)
                ),
            );
            s.row("fan-out / raw arrival", format!("{:.2}", raw.arrival_ratio));
        }
        sections.push(s);
        if let Some(failover) = &fanout.failover {
            sections.push(failover_section(failover));
        }
    }
    if let Some(follows) = &report.follows {
        sections.push(follow_section(follows));
    }
    if let Some(logs) = &report.logs {
        let mut s = Section::new(Some(&format!("logs ({})", logs.mode)));
        s.row(
            "records",
            format!(
                "{} acknowledged   {}/s",
                count(logs.acked as f64),
                count(logs.records_per_s)
            ),
        );
        s.row("ack latency", latency_line(&report.latency()));
        s.row(
            "read back",
            format!(
                "{} records in {:.1} s",
                count(logs.found as f64),
                logs.verify.as_secs_f64()
            ),
        );
        s.row("missing records", count(logs.missing as f64));
        s.row("duplicate records", count(logs.duplicates as f64));
        if logs.unexpected > 0 {
            s.row("unexpected records", count(logs.unexpected as f64));
        }
        sections.push(s);
    }
    if !report.notes.is_empty() {
        let mut s = Section::new(Some("notes"));
        for note in &report.notes {
            s.row("note", note.clone());
        }
        sections.push(s);
    }
    sections
}

/// Errors by kind under the calls: count, latency p99 when known (refusals must be fast),
/// and the first message.
pub(super) fn error_rows(s: &mut Section, totals: &Totals) {
    for (kind, error) in &totals.errors {
        let first = &error.first_message;
        let p99 = match error.latency.quantile_ms(0.99) {
            Some(p99) => format!("p99={}, ", ms(p99)),
            None => String::new(),
        };
        s.detail(
            kind,
            format!("{} ({p99}first: {first})", count(error.count as f64)),
        );
    }
}

/// "`missing` of `checked`", then the examples.
pub(super) fn missing_rows(
    s: &mut Section,
    label: &str,
    missing: u64,
    checked: &str,
    examples: &[String],
) {
    s.row(label, format!("{} of {checked}", count(missing as f64)));
    for example in examples {
        s.detail("e.g.", example.clone());
    }
}

/// The whole summary, as printed at the end of a run.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for section in sections(report) {
        let _ = writeln!(out);
        if let Some(title) = &section.title {
            let _ = writeln!(out, "  {title}");
        }
        for (label, value) in &section.rows {
            let dots = LABEL.saturating_sub(label.len() + 2).max(1);
            let _ = writeln!(out, "  {label}{}: {value}", ".".repeat(dots));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.4), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(5000.0), "5,000");
        assert_eq!(count(1_234_567.8), "1,234,568");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(count(f64::NAN), "-");
        assert_eq!(ms(0.842), "0.84 ms");
        assert_eq!(ms(45.23), "45.2 ms");
        assert_eq!(ms(1234.0), "1.23 s");
    }
}
