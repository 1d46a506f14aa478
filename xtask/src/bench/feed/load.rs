//! The three loads: raw reads straight from Redis and GetFeed through the service, both in a
//! closed loop (each task sends its next read when the last is answered), and GetFeed at a
//! fixed rate (open loop: latency runs from when each read was due, not from when it was sent,
//! so a stalled service cannot hide its stall by slowing the load down).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, ensure};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_redis::keys;
use fred::prelude::{Client, KeysInterface as _, SortedSetsInterface as _};
use fred::types::Value;
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use super::data::{Rng, pick};

/// Items per page, the contract's default.
pub const PAGE: usize = 20;

/// The figures of one run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Reads answered with a full page.
    pub reads: u64,
    /// Failed calls and pages that were not PAGE items.
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the start of the run to the last answer.
    pub elapsed: Duration,
    /// Per answered read, microseconds; sorted by `finish`.
    latencies_us: Vec<u32>,
    /// Open loop: how late each read was sent after it was due, microseconds; sorted by `finish`.
    send_lag_us: Vec<u32>,
}

impl Outcome {
    fn record(&mut self, result: Result<()>, latency: Duration) {
        match result {
            Ok(()) => {
                self.reads += 1;
                self.latencies_us.push(micros(latency));
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }

    fn absorb(&mut self, other: Outcome) {
        self.reads += other.reads;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.send_lag_us.extend(other.send_lag_us);
    }

    fn finish(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self.latencies_us.sort_unstable();
        self.send_lag_us.sort_unstable();
        self
    }

    /// Answered reads per second over the run.
    pub fn rate(&self) -> f64 {
        self.reads as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` in milliseconds; None without samples.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.latencies_us, q)
    }

    /// The send lag at quantile `q` in milliseconds (open loop only).
    pub fn send_lag_ms(&self, q: f64) -> Option<f64> {
        quantile_ms(&self.send_lag_us, q)
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn quantile_ms(sorted_us: &[u32], q: f64) -> Option<f64> {
    let last = sorted_us.len().checked_sub(1)?;
    let index = (last as f64 * q).round() as usize;
    Some(f64::from(sorted_us[index]) / 1000.0)
}

/// `ZREVRANGE tl:{user} 0 19`, then one pipeline of the 20 `GET pc:{id}` (fred sends each to
/// its node); the page must be full and every post cached.
async fn raw_read(redis: &Client, user: i64) -> Result<()> {
    let members: Vec<String> = redis
        .zrevrange(keys::timeline(user), 0, PAGE as i64 - 1, false)
        .await?;
    let pipeline = redis.pipeline();
    for member in &members {
        let post_id = keys::parse_member(member).context("a timeline member is not a post id")?;
        let () = pipeline.get(keys::post_cache(post_id)).await?;
    }
    let posts: Vec<Value> = pipeline.all().await?;
    ensure!(
        posts.len() == PAGE && posts.iter().all(|p| !p.is_null()),
        "raw read of user {user}: {} posts, {} cached",
        posts.len(),
        posts.iter().filter(|p| !p.is_null()).count()
    );
    Ok(())
}

/// GetFeed of the first page of `user`; the page must hold PAGE items.
async fn get_feed(client: &mut FeedServiceClient<Channel>, user: i64) -> Result<()> {
    let page = client
        .get_feed(GetFeedRequest {
            user_id: user,
            page_size: Some(PAGE as i32),
            page_token: String::new(),
        })
        .await
        .map_err(|status| anyhow!("GetFeed: {:?}: {}", status.code(), status.message()))?
        .into_inner();
    ensure!(
        page.items.len() == PAGE,
        "GetFeed of user {user} answered {} items, not {PAGE}",
        page.items.len()
    );
    Ok(())
}

/// What a closed-loop task reads a page with: straight from Redis, or through the service.
trait Reader: Send + 'static {
    /// The first page of `user`'s timeline; an error unless it is full.
    fn read(&mut self, user: i64) -> impl Future<Output = Result<()>> + Send;
}

impl Reader for Client {
    fn read(&mut self, user: i64) -> impl Future<Output = Result<()>> + Send {
        raw_read(self, user)
    }
}

impl Reader for FeedServiceClient<Channel> {
    fn read(&mut self, user: i64) -> impl Future<Output = Result<()>> + Send {
        get_feed(self, user)
    }
}

/// `tasks` closed-loop raw readers of random users for `duration`.
pub async fn raw(
    redis: &Client,
    users: usize,
    tasks: usize,
    duration: Duration,
) -> Result<Outcome> {
    closed(|_| redis.clone(), users, tasks, duration).await
}

/// `tasks` closed-loop GetFeed callers of random users for `duration`, round robin over
/// `clients` (one HTTP/2 connection each).
pub async fn closed_loop(
    clients: &[FeedServiceClient<Channel>],
    users: usize,
    tasks: usize,
    duration: Duration,
) -> Result<Outcome> {
    let client = |task: usize| clients[task % clients.len()].clone();
    closed(client, users, tasks, duration).await
}

/// `tasks` tasks, each reading pages of random users with its own `reader(task)` until
/// `duration` has passed, sending the next read when the last is answered.
async fn closed<R: Reader>(
    reader: impl Fn(usize) -> R,
    users: usize,
    tasks: usize,
    duration: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let stop = started + duration;
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let mut reader = reader(task);
            tokio::spawn(async move {
                let mut rng = Rng::seeded(task as u64);
                let mut outcome = Outcome::default();
                while Instant::now() < stop {
                    let user = pick(&mut rng, users);
                    let sent = Instant::now();
                    let result = reader.read(user).await;
                    outcome.record(result, sent.elapsed());
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome::default();
    for handle in handles {
        total.absorb(handle.await?);
    }
    Ok(total.finish(started.elapsed()))
}

/// Open loop: read n is due at `n / rate` s after the start, for `duration`, whether or not
/// earlier reads are answered, each on a task of its own, at most `in_flight` at once. Latency
/// runs from when the read was due. tokio's timer ticks once a millisecond, so reads due
/// within the same millisecond leave together, up to 1 ms late (the send lag shows it).
pub async fn open_loop(
    clients: &[FeedServiceClient<Channel>],
    users: usize,
    rate: u64,
    in_flight: usize,
    duration: Duration,
) -> Result<Outcome> {
    let pool = Arc::new(Semaphore::new(in_flight));
    let mut rng = Rng::seeded(u64::MAX);
    let started = Instant::now();
    let total_reads = (rate as f64 * duration.as_secs_f64()) as u64;
    let mut handles = Vec::with_capacity(total_reads as usize);
    for n in 0..total_reads {
        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = pool.clone().acquire_owned().await?;
        let mut client = clients[n as usize % clients.len()].clone();
        let user = pick(&mut rng, users);
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            let lag = due.elapsed();
            let result = get_feed(&mut client, user).await;
            (result, due.elapsed(), lag)
        }));
    }
    let mut total = Outcome::default();
    for handle in handles {
        let (result, latency, lag) = handle.await?;
        total.record(result, latency);
        total.send_lag_us.push(micros(lag));
    }
    Ok(total.finish(started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_rate_and_errors() {
        let mut outcome = Outcome::default();
        for ms in (1..=100).rev() {
            outcome.record(Ok(()), Duration::from_millis(ms));
        }
        outcome.record(Err(anyhow!("first")), Duration::ZERO);
        outcome.record(Err(anyhow!("second")), Duration::ZERO);
        let outcome = outcome.finish(Duration::from_secs(2));
        assert_eq!(outcome.rate(), 50.0);
        assert_eq!(outcome.latency_ms(0.5), Some(51.0));
        assert_eq!(outcome.latency_ms(0.99), Some(99.0));
        assert_eq!(outcome.latency_ms(1.0), Some(100.0));
        assert_eq!(outcome.errors, 2);
        assert_eq!(outcome.first_error.as_deref(), Some("first"));
        assert_eq!(Outcome::default().latency_ms(0.5), None);
    }
}
