//! The fan-out measurements `fanout`, `mixed` and `follow-storm` share: the lag sampler
//! running beside the load, then after it the drain, the final completeness check, the
//! figures, and (`--random-followers`) the raw baseline of the same writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use fred::prelude::Client;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::load::Measured;
use crate::report::{FanoutFigures, RawFigures};
use crate::social::Social;
use crate::timelines::check::{completeness, drain};
use crate::timelines::lag::{self, LagOutcome};
use crate::timelines::{Acked, PostLog, raw};

/// How long the backlog may take to drain before the check runs anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// Fan-out being measured: the posts, who is left out, the sampler.
pub struct FanoutRun {
    redis: Client,
    pub social: Arc<Social>,
    /// `skip[i]`: user i has more followers than the celebrity threshold.
    pub skip: Arc<Vec<bool>>,
    pub posts: Arc<PostLog>,
    /// Ends once `posts` stops sampling and its samples are resolved, or `drained`.
    sampler: JoinHandle<Result<LagOutcome>>,
    /// Cancelled when the drain is over: the sampler then counts what is pending as unseen.
    drained: CancellationToken,
}

impl FanoutRun {
    /// Starts the lag sampler; posts recorded with sampling on are measured from now on.
    pub fn start(redis: Client, social: Arc<Social>, threshold: usize, sample_every: u64) -> Self {
        let skip: Arc<Vec<bool>> = Arc::new(
            social
                .followers
                .iter()
                .map(|f| f.len() > threshold)
                .collect(),
        );
        let (samples, received) = tokio::sync::mpsc::unbounded_channel();
        let posts = Arc::new(PostLog::new(sample_every, Some(samples)));
        let drained = CancellationToken::new();
        let sampler = lag::spawn(
            redis.clone(),
            social.clone(),
            skip.clone(),
            received,
            drained.clone(),
        );
        Self {
            redis,
            social,
            skip,
            posts,
            sampler,
            drained,
        }
    }

    /// The redis client the measurements use.
    pub fn redis(&self) -> &Client {
        &self.redis
    }

    /// After `load` (with `setup_posts` posts written before it): drain, lag, completeness
    /// against `cap`; with `raw_baseline`, then the same timeline writes as raw ZADDs.
    pub async fn finish(
        self,
        load: &Measured,
        setup_posts: usize,
        cap: usize,
        raw_baseline: bool,
    ) -> Result<FanoutFigures> {
        self.posts.stop_sampling();
        let users = self.social.ids.len();
        let during = self.posts.by_author(users, setup_posts);
        eprintln!("waiting for the backlog to drain");
        let drained = drain(
            &self.redis,
            &self.social,
            &during,
            &self.skip,
            load.ended,
            DRAIN_LIMIT,
        )
        .await
        .context("measuring the drain")?;
        self.drained.cancel();
        let lag = self
            .sampler
            .await
            .map_err(|e| anyhow!("the lag sampler failed: {e}"))?
            .context("measuring fan-out lag")?;
        eprintln!("checking every timeline");
        let all = self.posts.by_author(users, 0);
        let completeness = completeness(&self.redis, &self.social, &all, &self.skip, cap)
            .await
            .context("checking the timelines")?;

        let mut lag_points: Vec<(f64, f64)> = lag
            .points
            .iter()
            .map(|(acked, lag)| {
                (
                    acked.saturating_duration_since(load.started).as_secs_f64(),
                    lag.as_secs_f64() * 1000.0,
                )
            })
            .collect();
        lag_points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut figures = FanoutFigures {
            lag_points,
            setup_posts: setup_posts as u64,
            authors: self.social.authors.len() as u64,
            followers: self
                .social
                .followees
                .iter()
                .filter(|f| !f.is_empty())
                .count() as u64,
            celebrity_authors: self
                .social
                .authors
                .iter()
                .filter(|&&a| self.skip[a as usize])
                .count() as u64,
            lag,
            drain: drained,
            completeness,
            ..FanoutFigures::default()
        };
        for (author, posts) in during.iter().enumerate() {
            let n = posts.len() as u64;
            figures.posts += n;
            if self.skip[author] {
                figures.celebrity_posts += n;
            } else {
                figures.timeline_writes += n * self.social.followers[author].len() as u64;
            }
        }
        let took = load.totals.elapsed + drained.unwrap_or(DRAIN_LIMIT);
        figures.timeline_writes_per_s = figures.timeline_writes as f64 / took.as_secs_f64();
        if raw_baseline {
            eprintln!("raw baseline: the same timeline writes as pipelined ZADDs");
            let arrival = self.posts.in_order(setup_posts);
            let raw = same_writes_raw(
                &self.redis,
                &self.social,
                &self.skip,
                (&during, &arrival),
                cap,
            )
            .await?;
            let ours = figures.timeline_writes_per_s;
            figures.raw = Some(RawFigures {
                ratio: ours / raw.writes_per_s.max(1e-9),
                arrival_ratio: ours / raw.arrival_writes_per_s.max(1e-9),
                ..raw
            });
        }
        Ok(figures)
    }
}

/// As many ZADDs into each follower's timeline as fan-out wrote into it for the posts of
/// `during` (new members, so each inserts; `skip`: celebrities, not fanned out), on timelines
/// trimmed back to `cap` as they were filled before the load; trimmed back again after. Sent
/// timeline by timeline, then again post after post in the order of `arrival` (the same
/// posts, in acknowledgement order). Run after the completeness check.
async fn same_writes_raw(
    redis: &Client,
    social: &Social,
    skip: &[bool],
    (during, arrival): (&[Vec<Acked>], &[Acked]),
    cap: usize,
) -> Result<RawFigures> {
    let mut per_user: BTreeMap<u32, usize> = BTreeMap::new();
    for (author, posts) in during.iter().enumerate() {
        if skip[author] || posts.is_empty() {
            continue;
        }
        for &follower in &social.followers[author] {
            *per_user.entry(follower).or_default() += posts.len();
        }
    }
    let writes: Vec<(i64, usize)> = per_user
        .into_iter()
        .map(|(user, n)| (social.ids[user as usize], n))
        .collect();
    let users: Vec<i64> = writes.iter().map(|&(user, _)| user).collect();
    raw::trim(redis, &users, cap).await?;
    let run = raw::zadd_per_master(redis, &writes)
        .await
        .context("the raw baseline")?;
    raw::trim(redis, &users, cap).await?;
    let posts: Vec<Vec<i64>> = arrival
        .iter()
        .filter(|post| !skip[post.author as usize])
        .map(|post| social.follower_ids(post.author))
        .collect();
    let in_order = raw::zadd_in_arrival_order(redis, &posts)
        .await
        .context("the raw baseline in arrival order")?;
    raw::trim(redis, &users, cap).await?;
    anyhow::ensure!(
        in_order.writes == run.writes,
        "the two raw baselines made {} and {} writes",
        run.writes,
        in_order.writes
    );
    Ok(RawFigures {
        writes: run.writes,
        masters: run.masters,
        writes_per_s: run.per_s(),
        arrival_writes_per_s: in_order.per_s(),
        ..RawFigures::default()
    })
}
