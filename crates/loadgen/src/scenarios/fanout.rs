//! `fanout`: followers following authors (or a power-law graph, or `--random-followers`),
//! posts in a closed or open loop, the lag of sampled posts, the drain after the load, and
//! every timeline checked. `--random-followers` also waits until the follows are applied
//! and fills every timeline to the cap before the load, and runs the raw ZADD baseline of
//! the same writes after it. `--kill-master-after` crashes a Redis master mid-load and
//! reports the recovery of the lag (`failover`).

use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use serde_json::json;

use super::failover::{self, Failover, Killed};
use super::follow_storm::FollowPhase;
use super::load::Measured;
use super::measure::FanoutRun;
use super::posting::{first_posts, post_load, wait_fanned_out};
use super::random;
use super::{Context, describe_load, load_options};
use crate::connect;
use crate::options::{FanoutOptions, ScenarioKind, Shape};
use crate::report::{FanoutFigures, Report};
use crate::social::{self, Plan};

/// `--random-followers` makes its follows with this many callers (as `follow-storm` does).
const FOLLOW_CLIENTS: usize = 64;

/// Runs the scenario.
pub async fn run(options: &FanoutOptions, ctx: &Context<'_>) -> Result<Report> {
    if let Shape::Random {
        authors,
        followers,
        users,
        seed,
    } = options.shape
    {
        let plan = Plan::check_random(authors, authors * followers, users)
            .map(|()| Plan::random(authors, authors * followers, users, seed))
            .map_err(|problem| anyhow!("--random-followers: {problem}"))?;
        return run_random(options, ctx, &plan, seed).await;
    }
    connect::check_health(&[ctx.post(), ctx.fanout()]).await?;
    let redis = connect::redis(&ctx.target().redis_url).await?;
    if options.kill_master_after.is_some() {
        failover::check_replicas(&redis).await?;
    }
    let channels = connect::channels(ctx.post(), ctx.options.connections).await?;
    let threshold = options.timelines.celebrity_threshold;
    let mut notes = Vec::new();
    let (plan, shape) = match options.shape {
        Shape::Fixed { authors, followers } => {
            if followers > threshold {
                notes.push(format!(
                    "every author has {followers} followers, more than the celebrity threshold \
                     ({threshold}): their posts are pulled at read time, not fanned out, so no \
                     timeline is checked"
                ));
            }
            (
                Plan::fixed(authors, followers),
                format!("{authors} authors x {followers} followers"),
            )
        }
        Shape::Random { .. } => unreachable!("run_random runs it"),
        Shape::Graph { users, seed } => {
            if users - 1 <= threshold {
                let note = format!(
                    "the graph cannot contain a celebrity: the most followed of {users} users \
                     has {} followers, not more than --celebrity-threshold {threshold}",
                    users - 1
                );
                eprintln!("note: {note}");
                notes.push(note);
            }
            (
                Plan::zipf(users, seed),
                format!("power-law graph of {users} users (seed {seed})"),
            )
        }
    };
    let shape = format!("{shape}, {}", describe_load(&options.load));
    eprintln!("setting up (run {}): {shape}", ctx.run_id);
    let social = Arc::new(social::create(&plan, &ctx.run_id, &channels).await?);

    let measured = FanoutRun::start(redis, social.clone(), threshold, options.sample_every);
    let celebrities = social
        .authors
        .iter()
        .filter(|&&a| measured.skip[a as usize])
        .count();
    if celebrities > 0 && celebrities < social.authors.len() {
        notes.push(format!(
            "{celebrities} authors have more than {threshold} followers (celebrities): their \
             posts are pulled at read time, not fanned out, and are left out of the lag, the \
             drain and the timeline check"
        ));
    }
    // Warm-up: one post per author builds the follower indexes and author lists, and waits
    // out the follow events, so the load measures the steady state.
    first_posts(&channels, &social, &ctx.run_id, &measured.posts).await?;
    let took = wait_fanned_out(measured.redis(), &social, &measured.posts, &measured.skip).await?;
    eprintln!("warm-up posts placed in {:.1} s", took.as_secs_f64());
    let setup_posts = measured.posts.len();

    eprintln!("load: {shape}");
    let kill = arm(options, measured.redis(), &social, ctx)?;
    let open_loop = options.load.rate.is_some();
    let authors = social.clone();
    let load = post_load(
        &options.load,
        ctx,
        &channels,
        social.clone(),
        measured.posts.clone(),
        // Round robin: VU i posts as author i (open loop: call n as author n).
        move |call| {
            let turn = if open_loop { call.n as usize } else { call.vu };
            authors.authors[turn % authors.authors.len()]
        },
    )
    .await;
    let killed = disarm(kill).await?;

    let mut fanout = measured
        .finish(&load, setup_posts, options.timelines.cap, false)
        .await?;
    fanout.failover = killed.map(|k| k.figures(load.started, &fanout.lag));
    Ok(report(options, ctx, load, fanout, shape, notes))
}

/// `--kill-master-after`: the kill armed at the start of the load.
fn arm(
    options: &FanoutOptions,
    redis: &fred::prelude::Client,
    social: &social::Social,
    ctx: &Context<'_>,
) -> Result<Option<Failover>> {
    options
        .kill_master_after
        .map(|after| Failover::arm(redis, social, after, ctx.stop.clone()))
        .transpose()
}

/// After the load: the kill, if one was armed (it is called off if it has not happened).
async fn disarm(kill: Option<Failover>) -> Result<Option<Killed>> {
    match kill {
        Some(kill) => Ok(Some(kill.finish().await?)),
        None => Ok(None),
    }
}

/// `--random-followers`: the graph made and its follows applied, timelines full, posts by
/// random authors, then the checks and the raw baseline.
async fn run_random(
    options: &FanoutOptions,
    ctx: &Context<'_>,
    plan: &Plan,
    seed: u64,
) -> Result<Report> {
    let Shape::Random {
        authors,
        followers,
        users,
        ..
    } = options.shape
    else {
        unreachable!("called for --random-followers only")
    };
    let shape = format!(
        "{authors} authors x {followers} followers drawn from {users} users (seed {seed}), \
         timelines filled to {}, {}",
        options.timelines.cap,
        describe_load(&options.load)
    );
    eprintln!("setting up (run {}): {shape}", ctx.run_id);
    let world = random::setup(plan, &options.timelines, options.sample_every, ctx).await?;
    if options.kill_master_after.is_some() {
        failover::check_replicas(world.redis()).await?;
    }
    let follows = FollowPhase::start(&world, plan, FOLLOW_CLIENTS, ctx)
        .await?
        .finish(world.redis(), &world.social)
        .await?;
    if follows.all_applied.is_none() {
        bail!(
            "fan-out applied {} of {} follows within the limit",
            follows.applied,
            follows.planned
        );
    }
    // Their backfills too: every author's first post in every follower's timeline.
    let measured = &world.measured;
    let took = wait_fanned_out(
        measured.redis(),
        &world.social,
        &measured.posts,
        &measured.skip,
    )
    .await?;
    eprintln!("backfills placed in {:.1} s", took.as_secs_f64());

    eprintln!("load: {shape}");
    let kill = arm(options, world.redis(), &world.social, ctx)?;
    let load = random::post_at_random(&world, &options.load, ctx, seed).await;
    let killed = disarm(kill).await?;
    let mut fanout = world
        .measured
        .finish(&load, world.setup_posts, options.timelines.cap, true)
        .await?;
    fanout.failover = killed.map(|k| k.figures(load.started, &fanout.lag));
    let mut report = report(options, ctx, load, fanout, shape, Vec::new());
    report
        .options
        .push(("graph_digest", json!(plan.digest().to_string())));
    Ok(Report {
        follows: Some(follows),
        ..report
    })
}

/// The report of a `fanout` run.
fn report(
    options: &FanoutOptions,
    ctx: &Context<'_>,
    load: Measured,
    fanout: FanoutFigures,
    shape: String,
    notes: Vec<String>,
) -> Report {
    let threshold = options.timelines.celebrity_threshold;
    let mut report_options = load_options(&options.load);
    report_options.extend([
        ("celebrity_threshold", json!(threshold)),
        ("timeline_cap", json!(options.timelines.cap)),
        ("sample_every", json!(options.sample_every)),
        ("connections", json!(ctx.options.connections)),
        (
            "kill_master_after_s",
            json!(options.kill_master_after.map(|d| d.as_secs())),
        ),
    ]);
    match options.shape {
        Shape::Fixed { authors, followers } => {
            report_options.extend([("authors", json!(authors)), ("followers", json!(followers))])
        }
        Shape::Graph { users, seed } => {
            report_options.extend([("users", json!(users)), ("seed", json!(seed))])
        }
        Shape::Random {
            authors,
            followers,
            users,
            seed,
        } => report_options.extend([
            ("random_followers", json!(true)),
            ("authors", json!(authors)),
            ("followers", json!(followers)),
            ("users", json!(users)),
            ("seed", json!(seed)),
        ]),
    }
    Report {
        fanout: Some(fanout),
        notes,
        ..load.report(ScenarioKind::Fanout, &ctx.run_id, shape, report_options)
    }
}
