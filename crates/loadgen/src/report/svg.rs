//! Line charts as inline SVG, drawn here so the HTML report needs nothing from the network:
//! axes with round ticks, a grid, one polyline per series (broken where a value is missing)
//! and a legend.

use std::fmt::Write as _;

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 42.0;

/// One line of a chart.
pub struct Series<'a> {
    pub name: &'a str,
    /// A CSS colour.
    pub color: &'a str,
    /// (x, y); None leaves a gap.
    pub points: Vec<(f64, Option<f64>)>,
}

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 x 10^k giving about `ticks` ticks up to `max`.
pub fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    if step.is_finite() && step > 0.0 {
        step
    } else {
        1.0
    }
}

fn label(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{}k", super::text::count(value / 1000.0))
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The chart `title` of `series` over x (seconds), y in `y_unit`.
pub fn line_chart(title: &str, y_unit: &str, series: &[Series<'_>]) -> String {
    let values = series.iter().flat_map(|s| s.points.iter());
    let (mut max_x, mut max_y) = (1.0f64, 0.0f64);
    for &(x, y) in values {
        max_x = max_x.max(x);
        if let Some(y) = y.filter(|y| y.is_finite()) {
            max_y = max_y.max(y);
        }
    }
    let y_step = nice_step(if max_y > 0.0 { max_y } else { 1.0 }, 5.0);
    let y_top = (max_y / y_step).ceil().max(1.0) * y_step;
    let x_step = nice_step(max_x, 10.0).max(1.0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + x / max_x * plot_w;
    let sy = |y: f64| TOP + plot_h - y / y_top * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12">"#,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold">{}</text>"##,
        escape(title)
    );
    // Horizontal grid and y labels.
    let mut y = 0.0;
    while y <= y_top + y_step / 2.0 {
        let py = sy(y);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            label(y)
        );
        y += y_step;
    }
    // x ticks.
    let mut x = 0.0;
    while x <= max_x + 1e-9 {
        let px = sx(x);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#999"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 4.0,
            TOP + plot_h + 17.0,
            label(x)
        );
        x += x_step;
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#999"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        TOP + plot_h,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    );
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">seconds since the load started</text><text x="14" y="{:.1}" text-anchor="middle" fill="#555" transform="rotate(-90 14 {:.1})">{}</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 6.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(y_unit)
    );
    for s in series {
        let mut segment: Vec<String> = Vec::new();
        let mut segments: Vec<Vec<String>> = Vec::new();
        for &(x, y) in &s.points {
            match y.filter(|y| y.is_finite()) {
                Some(y) => segment.push(format!("{:.1},{:.1}", sx(x), sy(y))),
                None if !segment.is_empty() => segments.push(std::mem::take(&mut segment)),
                None => {}
            }
        }
        if !segment.is_empty() {
            segments.push(segment);
        }
        for segment in segments {
            if segment.len() == 1 {
                if let Some((cx, cy)) = segment[0].split_once(',') {
                    let _ = write!(
                        svg,
                        r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{}"/>"#,
                        s.color
                    );
                }
            } else {
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                    s.color,
                    segment.join(" ")
                );
            }
        }
    }
    // Legend, top right.
    let mut lx = WIDTH - RIGHT;
    for s in series.iter().rev() {
        let width = 22.0 + 7.0 * s.name.len() as f64;
        lx -= width;
        let _ = write!(
            svg,
            r#"<rect x="{lx:.1}" y="12" width="12" height="4" fill="{}"/><text x="{:.1}" y="18">{}</text>"#,
            s.color,
            lx + 16.0,
            escape(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert_eq!(nice_step(0.3, 5.0), 0.1);
        assert_eq!(nice_step(12_000.0, 5.0), 5000.0);
    }

    #[test]
    fn a_chart_has_its_lines_and_gaps() {
        let chart = line_chart(
            "latency <ms>",
            "ms",
            &[
                Series {
                    name: "p50",
                    color: "#1f77b4",
                    points: vec![
                        (1.0, Some(2.0)),
                        (2.0, Some(3.0)),
                        (3.0, None),
                        (4.0, Some(1.0)),
                    ],
                },
                Series {
                    name: "p99",
                    color: "#d62728",
                    points: vec![],
                },
            ],
        );
        assert!(chart.starts_with("<svg"));
        assert!(chart.ends_with("</svg>"));
        assert_eq!(chart.matches("<polyline").count(), 1);
        assert_eq!(chart.matches("<circle").count(), 1);
        assert!(chart.contains("latency &lt;ms&gt;"));
        assert!(!chart.contains("NaN"));
    }
}
