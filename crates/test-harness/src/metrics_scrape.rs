//! A service's admin port as tests read it: a plain HTTP GET (`/healthz`, `/metrics`) and the
//! Prometheus text format parsed into samples, to find a series by name and labels.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long one GET may take: a server that accepts and never answers fails the try, so a
/// poll around it keeps its own deadline.
const GET_DEADLINE: Duration = Duration::from_secs(5);

/// A label name and value.
pub type Label = (&'static str, &'static str);

/// One sample of a series: its labels and value.
type Sample = (BTreeMap<String, String>, f64);

/// One scrape: each series name with its samples.
#[derive(Clone, Debug, Default)]
pub struct MetricSamples(BTreeMap<String, Vec<Sample>>);

impl MetricSamples {
    /// `GET /metrics` at `addr`, which must answer 200, parsed.
    pub async fn scrape(addr: SocketAddr) -> Result<Self> {
        let (status, body) = http_get(addr, "/metrics").await?;
        ensure!(status == 200, "{addr}/metrics answered {status}: {body}");
        Self::parse(&body)
    }

    /// The Prometheus text format: `name{k="v",...} value` lines; comments skipped.
    pub fn parse(text: &str) -> Result<Self> {
        let mut samples = BTreeMap::<String, Vec<Sample>>::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').context("no value")?;
            let value: f64 = value
                .parse()
                .with_context(|| format!("bad value: {line}"))?;
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    let labels = rest.strip_suffix('}').context("no closing brace")?;
                    (name, parse_labels(labels).with_context(|| line.to_owned())?)
                }
            };
            samples
                .entry(name.to_owned())
                .or_default()
                .push((labels, value));
        }
        Ok(Self(samples))
    }

    /// The sum of `name`'s samples whose labels include `labels`; `None` when there is none.
    pub fn total(&self, name: &str, labels: &[Label]) -> Option<f64> {
        let matching: Vec<f64> = self
            .0
            .get(name)?
            .iter()
            .filter(|(have, _)| {
                labels
                    .iter()
                    .all(|(k, v)| have.get(*k).is_some_and(|h| h == v))
            })
            .map(|(_, value)| *value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// Every series name served.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A plain HTTP/1.1 GET of `path` at `addr` (5 s at most): the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(GET_DEADLINE, exchange)
        .await
        .with_context(|| format!("GET {addr}{path}: no answer within {GET_DEADLINE:?}"))?
        .with_context(|| format!("GET {addr}{path}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status code")?;
    Ok((status, body.to_owned()))
}

/// `k="v",k2="v2"` (values may hold escaped quotes and commas).
fn parse_labels(mut rest: &str) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").context("no =\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                Some((_, c)) => value.push(c),
                None => bail!("unterminated label value"),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_samples_whose_labels_match() {
        let text = "# HELP x_total things\n\
                    x_total{a=\"1\",b=\"q\\\"u,o\"} 2\n\
                    x_total{a=\"1\",b=\"other\"} 3\n\
                    x_total{a=\"2\"} 5\n\
                    y 7.5\n";
        let samples = MetricSamples::parse(text).unwrap();
        assert_eq!(samples.total("x_total", &[("a", "1")]), Some(5.0));
        assert_eq!(samples.total("x_total", &[("b", "q\"u,o")]), Some(2.0));
        assert_eq!(samples.total("x_total", &[]), Some(10.0));
        assert_eq!(samples.total("x_total", &[("a", "3")]), None);
        assert_eq!(samples.total("y", &[]), Some(7.5));
        assert_eq!(samples.total("z", &[]), None);
        assert_eq!(samples.names().collect::<Vec<_>>(), ["x_total", "y"]);
    }

    #[test]
    fn refuses_what_is_not_the_text_format() {
        assert!(MetricSamples::parse("x_total{a=\"1\" 2\n").is_err());
        assert!(MetricSamples::parse("x_total{a=\"1} 2\n").is_err());
        assert!(MetricSamples::parse("x_total two\n").is_err());
    }
}
