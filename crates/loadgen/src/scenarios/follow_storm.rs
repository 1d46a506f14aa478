//! `follow-storm`: many follows (authors followed by users drawn at random among many) sent
//! by `--clients` callers in a closed loop, as fast as post-service takes them; each refused
//! one (RESOURCE_EXHAUSTED, UNAVAILABLE) is counted with its latency and sent again after its
//! RetryInfo delay, so every follow is made. Then posts by random authors at `--rate`, while
//! fan-out may still be applying the follows: their lag is what a follow backlog costs posts.
//!
//! Follow events applied are counted where fan-out applies them, in the authors' follower
//! indexes (`timelines::follows`), every 100 ms from the first Follow until all are. At the
//! end, every follower must be in its followee's index and every post in every timeline.
//! `fanout --random-followers` makes its follows the same way ([`FollowPhase`]), but waits
//! for them to be applied before its load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::connect::Channel;
use anyhow::{Result, anyhow};
use feedline_proto::graph::v1::FollowRequest;
use feedline_proto::graph::v1::graph_service_client::GraphServiceClient;
use fred::prelude::Client;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::random::{self, RandomWorld};
use super::{Context, describe_load, load_options};
use crate::connect;
use crate::drive::retry_after;
use crate::options::{FollowStormOptions, ScenarioKind};
use crate::report::{FollowFigures, Report};
use crate::social::{Plan, Social};
use crate::stats::{Progress, Recorder, Totals};
use crate::timelines::follows::{self, AppliedSeries};

/// From the first Follow, how long the follows may take to be applied.
const APPLY_LIMIT: Duration = Duration::from_secs(900);
/// When a refusal carries no RetryInfo.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(20);

/// Runs the scenario.
pub async fn run(options: &FollowStormOptions, ctx: &Context<'_>) -> Result<Report> {
    let (authors, follows, users, seed) = (
        options.authors,
        options.follows,
        options.users,
        options.seed,
    );
    Plan::check_random(authors, follows, users)
        .map_err(|problem| anyhow!("follow-storm: {problem}"))?;
    let plan = Plan::random(authors, follows, users, seed);
    let shape = format!(
        "{follows} follows of {authors} authors by users drawn from {users} (seed {seed}) by \
         {} callers, then posts: {}",
        options.clients,
        describe_load(&options.load)
    );
    eprintln!("setting up (run {}): {shape}", ctx.run_id);
    let world = random::setup(&plan, &options.timelines, options.sample_every, ctx).await?;
    let phase = FollowPhase::start(&world, &plan, options.clients, ctx).await?;

    eprintln!("load: posts while the follows are applied");
    let load = random::post_at_random(&world, &options.load, ctx, seed).await;
    let redis = world.redis().clone();
    let fanout = world
        .measured
        .finish(&load, world.setup_posts, options.timelines.cap, false)
        .await?;
    let figures = phase.finish(&redis, &world.social).await?;
    let mut report_options = load_options(&options.load);
    report_options.extend([
        ("follows", json!(follows)),
        ("users", json!(users)),
        ("authors", json!(authors)),
        ("seed", json!(seed)),
        ("graph_digest", json!(plan.digest().to_string())),
        ("clients", json!(options.clients)),
        (
            "celebrity_threshold",
            json!(options.timelines.celebrity_threshold),
        ),
        ("timeline_cap", json!(options.timelines.cap)),
        ("sample_every", json!(options.sample_every)),
        ("connections", json!(ctx.options.connections)),
    ]);
    Ok(Report {
        fanout: Some(fanout),
        follows: Some(figures),
        ..load.report(
            ScenarioKind::FollowStorm,
            &ctx.run_id,
            shape,
            report_options,
        )
    })
}

/// The follows of a [`RandomWorld`] being made and applied: the storm is over, fan-out may
/// still be applying them, and a counter watches it do so.
pub struct FollowPhase {
    started: Instant,
    planned: usize,
    accepted: usize,
    storm: Duration,
    totals: Totals,
    applied_at_storm_end: u64,
    /// Counts applied follows until all are; cancelled early when some were never made.
    watcher: JoinHandle<Result<AppliedSeries>>,
}

impl FollowPhase {
    /// Makes every follow of `plan` with `clients` callers in a closed loop, counting from the
    /// first the follows applied.
    pub async fn start(
        world: &RandomWorld,
        plan: &Plan,
        clients: usize,
        ctx: &Context<'_>,
    ) -> Result<Self> {
        let planned = plan.edges.len();
        eprintln!("follow storm: {planned} follows, {clients} callers");
        let started = Instant::now();
        let watch_stop = CancellationToken::new();
        let watcher = follows::watch(
            world.redis().clone(),
            world.author_ids.clone(),
            planned as u64,
            APPLY_LIMIT,
            watch_stop.clone(),
        );
        let (totals, accepted) = storm(
            &plan.edges,
            &world.social.ids,
            &world.channels,
            clients,
            &ctx.stop,
        )
        .await?;
        let storm = started.elapsed();
        let applied_at_storm_end = follows::applied(world.redis(), &world.author_ids).await?;
        eprintln!(
            "{accepted} follows accepted in {:.1} s, {applied_at_storm_end} applied so far",
            storm.as_secs_f64()
        );
        if accepted < planned {
            // Stopped early: the rest will never be applied, so stop counting after one more.
            watch_stop.cancel();
        }
        Ok(Self {
            started,
            planned,
            accepted,
            storm,
            totals,
            applied_at_storm_end,
            watcher,
        })
    }

    /// Waits until every follow is applied (or the limit), then checks that every follower
    /// of `social` is in its followee's index, and nobody else.
    pub async fn finish(self, redis: &Client, social: &Social) -> Result<FollowFigures> {
        eprintln!("waiting for every follow to be applied");
        let applied = self
            .watcher
            .await
            .map_err(|e| anyhow!("counting applied follows failed: {e}"))??;
        let check = follows::check_followers(redis, social).await?;
        let all_applied = applied
            .done_at
            .map(|at| at.saturating_duration_since(self.started));
        let counted_for = all_applied.unwrap_or_else(|| {
            applied.points.last().map_or(Duration::ZERO, |p| {
                p.0.saturating_duration_since(self.started)
            })
        });
        Ok(FollowFigures {
            planned: self.planned as u64,
            accepted: self.accepted as u64,
            storm: self.storm,
            accepted_per_s: self.accepted as f64 / self.storm.as_secs_f64().max(1e-9),
            totals: self.totals,
            applied_at_storm_end: self.applied_at_storm_end,
            applied: applied.last(),
            all_applied,
            applied_per_s: applied.last() as f64 / counted_for.as_secs_f64().max(1e-9),
            missing: check.missing,
            unexpected: check.unexpected,
            examples: check.examples,
        })
    }
}

/// One Follow per edge, `clients` callers each sending its next as soon as the last is
/// accepted, until every edge is or `stop`. Returns the calls recorded and how many follows
/// were accepted.
async fn storm(
    edges: &[(u32, u32)],
    ids: &[i64],
    channels: &[Channel],
    clients: usize,
    stop: &CancellationToken,
) -> Result<(Totals, usize)> {
    let requests: Arc<Vec<FollowRequest>> = Arc::new(
        edges
            .iter()
            .map(|&(follower, followee)| FollowRequest {
                follower_id: ids[follower as usize],
                followee_id: ids[followee as usize],
            })
            .collect(),
    );
    let recorder = Arc::new(Recorder::new());
    let progress = Progress::load(recorder.clone(), None);
    let next = Arc::new(AtomicUsize::new(0));
    let graph = connect::clients(channels, GraphServiceClient::new);
    let mut tasks = JoinSet::new();
    for caller in 0..clients {
        let (requests, recorder, next, stop) = (
            requests.clone(),
            recorder.clone(),
            next.clone(),
            stop.clone(),
        );
        let mut client = graph[caller % graph.len()].clone();
        tasks.spawn(async move {
            let mut accepted = 0usize;
            while !stop.is_cancelled() {
                let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                follow(&mut client, request, &recorder, &stop).await?;
                accepted += 1;
            }
            Ok::<usize, anyhow::Error>(accepted)
        });
    }
    let mut accepted = 0;
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| anyhow!("a Follow caller panicked: {e}"))? {
            Ok(n) => accepted += n,
            Err(error) => failed = failed.or(Some(error)),
        }
    }
    let totals = recorder.finish();
    progress.stop().await;
    match failed {
        Some(error) => Err(error),
        None => Ok((totals, accepted)),
    }
}

/// One Follow, sent again while post-service refuses it; each refusal recorded with its
/// latency. Fails on any other error: the graph would not be the one planned.
async fn follow(
    client: &mut GraphServiceClient<Channel>,
    request: &FollowRequest,
    recorder: &Recorder,
    stop: &CancellationToken,
) -> Result<()> {
    loop {
        let sent = Instant::now();
        let status = match client.follow(*request).await {
            Ok(_) => {
                recorder.ok("Follow", sent.elapsed());
                return Ok(());
            }
            Err(status) => status,
        };
        let kind = format!("{:?}", status.code());
        recorder.error_after("Follow", &kind, status.message(), sent.elapsed());
        let Some(delay) = retry_after(&status, DEFAULT_RETRY_DELAY) else {
            return Err(anyhow!("Follow: {kind}: {}", status.message()));
        };
        if stop.is_cancelled() {
            return Err(anyhow!("stopped while Follow was refused ({kind})"));
        }
        recorder.retry(&kind);
        tokio::time::sleep(delay).await;
    }
}
