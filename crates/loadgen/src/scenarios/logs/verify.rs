//! Reading everything back: QueryLogs pages through the run's app and every record's
//! client_record_id is counted in its slot, so an acknowledged record found nowhere is
//! missing and one found twice is a duplicate.
//!
//! The records' times (stamped by the senders) are cut into windows of about
//! `WINDOW_RECORDS` records, read a few at a time, each paged by its own cursor, plus one
//! window before and one after the load so that every record is read exactly once. Short
//! windows keep each page a short range scan however deep the walk goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use feedline_proto::logs::v1::{QueryLogsRequest, QueryLogsResponse};
use feedline_proto::prost_types::Timestamp;
use futures::stream::{self, StreamExt as _};
use tokio::time::Instant;
use tonic::Code;

use super::app::KeyedClient;
use super::records::Numbering;
use crate::stats::Progress;

const PAGE: i32 = 1000;
/// Records per window, about.
const WINDOW_RECORDS: usize = 20_000;
/// Windows read at once.
const READERS: usize = 4;
/// A page refused this many times in a row (RESOURCE_EXHAUSTED, UNAVAILABLE) fails the run.
const PAGE_ATTEMPTS: u32 = 20;

/// What the read-back found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub found: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub unexpected: u64,
    pub took: Duration,
}

/// Records at or after `start` and before `end` (Unix ns; None: unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Windows covering every time exactly once: before `from`, `from..to` cut in `n`, from `to`.
pub fn windows(from: i64, to: i64, n: usize) -> Vec<Window> {
    let n = n.max(1) as i64;
    let to = to.max(from + n);
    let mut bounds: Vec<i64> = (0..=n).map(|i| from + (to - from) / n * i).collect();
    if let Some(last) = bounds.last_mut() {
        *last = to;
    }
    let mut out = vec![Window {
        start: None,
        end: Some(from),
    }];
    out.extend(bounds.windows(2).map(|pair| Window {
        start: Some(pair[0]),
        end: Some(pair[1]),
    }));
    out.push(Window {
        start: Some(to),
        end: None,
    });
    out
}

/// Reads every record of the app of `clients` and counts each in its slot; `acked[c]` says
/// whether call c (sender * calls + call) was acknowledged; `span` is when the senders ran
/// (Unix ns), so the windows fall where the records are.
pub async fn verify(
    clients: &[KeyedClient],
    numbering: Numbering,
    acked: &[bool],
    span: (i64, i64),
) -> Result<Verified> {
    let started = Instant::now();
    let expected = acked.iter().filter(|a| **a).count() * numbering.records;
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::steps("reading back".into(), done.clone(), expected as u64);
    let windows = windows(span.0, span.1, expected.div_ceil(WINDOW_RECORDS));
    let mut seen = vec![0u8; numbering.total()];
    let mut verified = Verified::default();
    let mut reads = stream::iter(windows.into_iter().enumerate())
        .map(|(i, window)| {
            let client = clients[i % clients.len().max(1)].clone();
            let done = done.clone();
            async move { read_window(client, window, numbering, &done).await }
        })
        .buffer_unordered(READERS);
    let mut failure = None;
    while let Some(read) = reads.next().await {
        match read {
            Ok((slots, unexpected)) => {
                verified.found += slots.len() as u64 + unexpected;
                verified.unexpected += unexpected;
                for slot in slots {
                    seen[slot] = seen[slot].saturating_add(1);
                }
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    drop(reads);
    progress.stop().await;
    if let Some(error) = failure {
        return Err(error);
    }
    for (call, records) in seen.chunks(numbering.records.max(1)).enumerate() {
        let call_acked = acked.get(call).copied().unwrap_or(false);
        for &n in records {
            if n == 0 && call_acked {
                verified.missing += 1;
            }
            verified.duplicates += u64::from(n.saturating_sub(1));
        }
    }
    verified.took = started.elapsed();
    Ok(verified)
}

/// Every record of `window`: the slots of this run's, and how many were not this run's.
async fn read_window(
    mut client: KeyedClient,
    window: Window,
    numbering: Numbering,
    done: &AtomicU64,
) -> Result<(Vec<usize>, u64)> {
    let mut slots = Vec::new();
    let mut unexpected = 0;
    let mut token = String::new();
    loop {
        let page = page(&mut client, window, &token).await?;
        for stored in &page.records {
            let id = stored
                .record
                .as_ref()
                .map_or("", |r| r.client_record_id.as_str());
            match numbering.parse(id) {
                Some(slot) => slots.push(slot),
                None => unexpected += 1,
            }
        }
        done.fetch_add(page.records.len() as u64, Ordering::Relaxed);
        if page.next_page_token.is_empty() {
            return Ok((slots, unexpected));
        }
        token = page.next_page_token;
    }
}

fn timestamp(unix_ns: i64) -> Timestamp {
    Timestamp {
        seconds: unix_ns.div_euclid(1_000_000_000),
        nanos: unix_ns.rem_euclid(1_000_000_000) as i32,
    }
}

/// One page, asked again while the service says to.
async fn page(client: &mut KeyedClient, window: Window, token: &str) -> Result<QueryLogsResponse> {
    let mut attempts = 0;
    loop {
        let request = QueryLogsRequest {
            start_time: window.start.map(timestamp),
            end_time: window.end.map(timestamp),
            page_size: Some(PAGE),
            page_token: token.to_owned(),
            ..QueryLogsRequest::default()
        };
        match client.query_logs(request).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status)
                if matches!(status.code(), Code::ResourceExhausted | Code::Unavailable)
                    && attempts < PAGE_ATTEMPTS =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => bail!("QueryLogs: {:?}: {}", status.code(), status.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_time_once() {
        let windows = windows(1000, 2000, 3);
        assert_eq!(windows.len(), 5);
        assert_eq!(
            windows[0],
            Window {
                start: None,
                end: Some(1000)
            }
        );
        assert_eq!(
            windows[4],
            Window {
                start: Some(2000),
                end: None
            }
        );
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for w in &windows[1..4] {
            assert!(w.start < w.end);
        }
        // A span too short to cut still gives non-empty windows.
        let tiny = super::windows(5, 5, 4);
        assert!(tiny[1..5].iter().all(|w| w.start < w.end));
    }
}
