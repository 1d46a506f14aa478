//! `--html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! with throughput and latency over time and the summary table.

use std::fmt::Write as _;

use super::Report;
use super::svg::{Series, escape, line_chart};
use super::text::sections;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:900px}\
h1{font-size:20px;margin-bottom:4px}.sub{color:#666;margin-top:0}\
table{border-collapse:collapse;margin:12px 0 20px}td,th{padding:3px 12px 3px 0;text-align:left;\
vertical-align:top}th{padding-top:12px;font-size:15px}td:first-child{color:#555;white-space:nowrap}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}\
td:last-child{white-space:pre-wrap}figure{margin:0 0 16px}\
svg{max-width:100%;height:auto;border:1px solid #eee}";

/// The page.
pub fn render(report: &Report) -> String {
    let series = &report.totals.series;
    let ok_rate: Vec<(f64, Option<f64>)> = series
        .iter()
        .map(|s| (s.t_s, Some(s.ok as f64 / s.span_s.max(1e-9))))
        .collect();
    let error_rate: Vec<(f64, Option<f64>)> = series
        .iter()
        .map(|s| (s.t_s, Some(s.errors as f64 / s.span_s.max(1e-9))))
        .collect();
    let p50: Vec<(f64, Option<f64>)> = series.iter().map(|s| (s.t_s, s.p50_ms)).collect();
    let p99: Vec<(f64, Option<f64>)> = series.iter().map(|s| (s.t_s, s.p99_ms)).collect();
    let throughput = line_chart(
        "Throughput",
        "requests/s",
        &[
            Series {
                name: "ok/s",
                color: "#1f77b4",
                points: ok_rate,
            },
            Series {
                name: "errors/s",
                color: "#d62728",
                points: error_rate,
            },
        ],
    );
    let latency = line_chart(
        "Latency per second (successful calls)",
        "ms",
        &[
            Series {
                name: "p50",
                color: "#2ca02c",
                points: p50,
            },
            Series {
                name: "p99",
                color: "#ff7f0e",
                points: p99,
            },
        ],
    );

    let lag = report.fanout.as_ref().map(|fanout| {
        line_chart(
            "Fan-out lag of sampled posts, by when they were acknowledged",
            "ms",
            &[Series {
                name: "lag",
                color: "#9467bd",
                points: fanout
                    .lag_points
                    .iter()
                    .map(|&(t, lag)| (t, Some(lag)))
                    .collect(),
            }],
        )
    });

    let mut html = String::new();
    let title = format!(
        "feedline loadgen: {} (run {})",
        report.scenario.name(),
        report.run_id
    );
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1><p class=\"sub\">{}</p>",
        escape(&title),
        escape(&title),
        escape(&report.shape)
    );
    let (class, verdict) = if report.passed() {
        ("pass", "passed: nothing missing, nothing duplicated")
    } else {
        ("fail", "FAILED: see the figures below")
    };
    let _ = write!(html, "<p class=\"{class}\">{verdict}</p>");
    let _ = write!(
        html,
        "<figure>{throughput}</figure><figure>{latency}</figure>"
    );
    if let Some(lag) = lag {
        let _ = write!(html, "<figure>{lag}</figure>");
    }
    html.push_str("<table>");
    for section in sections(report) {
        if let Some(title) = &section.title {
            let _ = write!(html, "<tr><th colspan=\"2\">{}</th></tr>", escape(title));
        }
        for (label, value) in &section.rows {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(label.trim()),
                escape(value)
            );
        }
    }
    html.push_str("</table></body></html>\n");
    html
}
