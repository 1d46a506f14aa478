//! Timelines as a benchmark needs them, written straight into the Redis Cluster: filled to
//! the cap first (a ZADD into an 800-entry sorted set costs about 3x one into a small set),
//! trimmed back between runs, and the raw baseline: pipelined `ZADD`s into the same
//! timelines, split per master and streamed by one `redis-cli --pipe` each, all at once.
//!
//! The baseline comes in two orders. Per timeline: every write of one timeline in a row, so
//! its sorted set stays in the CPU cache; no online fan-out can write in that order, since it
//! would have to hold all of a run's posts first. In arrival order: post after post, as they
//! were acknowledged, each to all of its author's followers; the order a fan-out meets them
//! in. With timelines drawn at random among many, the second is about 3x slower on the same
//! Redis (see docs/benchmarks.md): a ZADD into a cold 800-entry sorted set is cache misses.
//!
//! Scores keep the three apart from real posts (creation ms, about 1.7e12): fill entries
//! score 1e6.., raw entries 2e9.., so trims drop fill first, then raw entries, never a post.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use feedline_redis::keys;
use fred::prelude::{Client, ClusterInterface as _, SortedSetsInterface as _};
use fred::types::Value;
use futures::stream::{self, StreamExt as _, TryStreamExt as _};

/// Timelines per fill or trim pipeline.
const KEYS_PER_PIPELINE: usize = 50;
/// Fill pipelines in flight.
const FILL_CONCURRENCY: usize = 4;
/// Score and member of the first fill entry.
const FILL_BASE: u64 = 1_000_000;
/// Score of the first raw entry.
const RAW_SCORE_BASE: u64 = 2_000_000_000;

/// ZADDs `cap` old entries into the timeline of each of `users`.
pub async fn fill(redis: &Client, users: &[i64], cap: usize) -> Result<()> {
    let entries: Vec<(f64, String)> = (FILL_BASE..FILL_BASE + cap as u64)
        .map(|i| (i as f64, keys::member(i as i64)))
        .collect();
    stream::iter(users.chunks(KEYS_PER_PIPELINE))
        .map(|chunk| {
            let entries = entries.clone();
            async move {
                let pipeline = redis.pipeline();
                for &user in chunk {
                    let () = pipeline
                        .zadd(
                            keys::timeline(user),
                            None,
                            None,
                            false,
                            false,
                            entries.clone(),
                        )
                        .await?;
                }
                let _: Vec<Value> = pipeline.all().await?;
                Ok::<(), anyhow::Error>(())
            }
        })
        .buffer_unordered(FILL_CONCURRENCY)
        .try_collect::<()>()
        .await
        .context("filling the timelines")
}

/// Trims the timeline of each of `users` back to its `cap` highest entries.
pub async fn trim(redis: &Client, users: &[i64], cap: usize) -> Result<()> {
    for chunk in users.chunks(KEYS_PER_PIPELINE * 20) {
        let pipeline = redis.pipeline();
        for &user in chunk {
            let () = pipeline
                .zremrangebyrank(keys::timeline(user), 0, -(cap as i64) - 1)
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
    }
    Ok(())
}

/// What the raw baseline did.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawRun {
    /// ZADDs sent, each inserting one new member.
    pub writes: u64,
    /// Masters written to at once.
    pub masters: usize,
    pub elapsed: Duration,
}

impl RawRun {
    /// ZADDs per second.
    pub fn per_s(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The raw rate: for each `(user, n)`, `n` single-member ZADDs of new members into
/// `tl:{user}`, as RESP streamed by one `redis-cli --pipe` per master (each gets only the
/// keys it owns), all masters at once. Needs `redis-cli` on the PATH.
pub async fn zadd_per_master(redis: &Client, writes: &[(i64, usize)]) -> Result<RawRun> {
    let mut per_node = PerNode::new(redis)?;
    let base = fresh_member_base();
    for &(user, n) in writes {
        let key = keys::timeline(user);
        for i in 0..n as u64 {
            per_node.zadd(&key, RAW_SCORE_BASE + i, base + i)?;
        }
    }
    per_node.pipe().await
}

/// The raw rate in arrival order: for each post of `posts` (the follower ids of each, in the
/// order the posts were acknowledged), one single-member ZADD of a new member into each
/// follower's timeline, as RESP streamed by one `redis-cli --pipe` per master, all masters at
/// once. The same (timeline, post) pairs as [`zadd_per_master`] is given, in the order a
/// fan-out meets them. Needs `redis-cli` on the PATH.
pub async fn zadd_in_arrival_order(redis: &Client, posts: &[Vec<i64>]) -> Result<RawRun> {
    let mut per_node = PerNode::new(redis)?;
    let base = fresh_member_base();
    for (i, followers) in posts.iter().enumerate() {
        let i = i as u64;
        for &follower in followers {
            per_node.zadd(&keys::timeline(follower), RAW_SCORE_BASE + i, base + i)?;
        }
    }
    per_node.pipe().await
}

/// RESP for each master, in the order the commands were added.
struct PerNode {
    routing: fred::types::cluster::ClusterRouting,
    buffers: BTreeMap<(String, u16), Vec<u8>>,
    writes: u64,
}

impl PerNode {
    fn new(redis: &Client) -> Result<Self> {
        let routing = redis
            .cached_cluster_state()
            .context("no cluster routing (is the URL a Redis Cluster?)")?;
        Ok(Self {
            routing,
            buffers: BTreeMap::new(),
            writes: 0,
        })
    }

    /// Appends `ZADD key score member` (the member is [`keys::member`] of `member`) to the
    /// buffer of the master owning `key`.
    fn zadd(&mut self, key: &str, score: u64, member: u64) -> Result<()> {
        let slot = fred::util::redis_keyslot(key.as_bytes());
        let server = self
            .routing
            .get_server(slot)
            .context("slot without a node")?;
        let buffer = self
            .buffers
            .entry((server.host.to_string(), server.port))
            .or_default();
        let score = score.to_string();
        buffer.extend(resp(&["ZADD", key, &score, &keys::member(member as i64)]));
        self.writes += 1;
        Ok(())
    }

    /// Streams every buffer to its master at once, timed.
    async fn pipe(self) -> Result<RawRun> {
        let masters = self.buffers.len();
        let buffers = self.buffers;
        // redis-cli blocks; its own threads keep the runtime free.
        let elapsed = tokio::task::spawn_blocking(move || pipe_all(buffers))
            .await
            .map_err(|e| anyhow!("the raw baseline panicked: {e}"))??;
        Ok(RawRun {
            writes: self.writes,
            masters,
            elapsed,
        })
    }
}

fn pipe_all(per_node: BTreeMap<(String, u16), Vec<u8>>) -> Result<Duration> {
    let started = Instant::now();
    let mut children = Vec::new();
    for ((host, port), buffer) in per_node {
        let mut child = Command::new("redis-cli")
            .args(["-h", &host, "-p", &port.to_string(), "--pipe"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot run redis-cli (the raw baseline streams with `redis-cli --pipe`)")?;
        let mut stdin = child.stdin.take().context("redis-cli without stdin")?;
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &buffer));
        children.push((child, writer));
    }
    for (mut child, writer) in children {
        writer
            .join()
            .map_err(|_| anyhow!("writing to redis-cli panicked"))??;
        if !child.wait()?.success() {
            bail!("redis-cli --pipe failed");
        }
    }
    Ok(started.elapsed())
}

/// One command in RESP, the protocol `redis-cli --pipe` streams.
fn resp(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n{part}\r\n", part.len()).as_bytes());
    }
    out
}

/// A member range no earlier run used, so every raw ZADD inserts (none just updates a score).
fn fresh_member_base() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(5_000_000_000, |d| {
            5_000_000_000 + (d.as_micros() as u64 % 1_000_000_000) * 1000
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_is_what_redis_cli_pipes() {
        assert_eq!(
            resp(&["ZADD", "tl:{1}", "2", "m"]),
            b"*4\r\n$4\r\nZADD\r\n$6\r\ntl:{1}\r\n$1\r\n2\r\n$1\r\nm\r\n"
        );
    }

    #[test]
    fn rates_never_divide_by_zero() {
        assert_eq!(RawRun::default().per_s(), 0.0);
        let run = RawRun {
            writes: 500,
            masters: 3,
            elapsed: Duration::from_millis(250),
        };
        assert_eq!(run.per_s(), 2000.0);
    }
}
