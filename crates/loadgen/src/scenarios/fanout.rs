//! `fanout`: followers following authors (or a power-law graph), posts in a closed or open
//! loop, the lag of sampled posts, the drain after the load, and every timeline checked.

use std::sync::Arc;

use anyhow::Result;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use serde_json::json;

use super::load::measure;
use super::measure::FanoutRun;
use super::posting::{create_post, wait_fanned_out, write_posts};
use super::{Context, describe_load, load_options};
use crate::connect;
use crate::options::{FanoutOptions, ScenarioKind, Shape};
use crate::report::Report;
use crate::social::{self, Plan};

/// Runs the scenario.
pub async fn run(options: &FanoutOptions, ctx: &Context<'_>) -> Result<Report> {
    connect::check_health(&[ctx.post(), ctx.fanout()]).await?;
    let redis = connect::redis(&ctx.target().redis_url).await?;
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
    write_posts(
        &channels,
        &social,
        &social.authors,
        1,
        &ctx.run_id,
        &measured.posts,
    )
    .await?;
    let took = wait_fanned_out(measured.redis(), &social, &measured.posts, &measured.skip).await?;
    eprintln!("warm-up posts placed in {:.1} s", took.as_secs_f64());
    let setup_posts = measured.posts.len();

    eprintln!("load: {shape}");
    let clients = Arc::new(connect::clients(&channels, PostServiceClient::new));
    let open_loop = options.load.rate.is_some();
    let (posts, run_id, op_social) = (measured.posts.clone(), ctx.run_id.clone(), social.clone());
    let load = measure(&options.load, &ctx.stop, move |call| {
        // Round robin: VU i posts as author i (open loop: call n as author n).
        let turn = if open_loop { call.n as usize } else { call.vu };
        let author = op_social.authors[turn % op_social.authors.len()];
        let author_id = op_social.ids[author as usize];
        let mut client = clients[call.vu % clients.len()].clone();
        let posts = posts.clone();
        let body = format!("loadgen {run_id} post {}", call.n);
        async move {
            let result = match create_post(&mut client, author_id, body).await {
                Ok(post) => posts.record(author, post.as_ref(), true),
                Err(error) => Err(error),
            };
            ("CreatePost", result)
        }
    })
    .await;

    let fanout = measured
        .finish(&load, setup_posts, options.timelines.cap)
        .await?;
    let mut report_options = load_options(&options.load);
    report_options.extend([
        ("celebrity_threshold", json!(threshold)),
        ("timeline_cap", json!(options.timelines.cap)),
        ("sample_every", json!(options.sample_every)),
        ("connections", json!(ctx.options.connections)),
    ]);
    match options.shape {
        Shape::Fixed { authors, followers } => {
            report_options.extend([("authors", json!(authors)), ("followers", json!(followers))])
        }
        Shape::Graph { users, seed } => {
            report_options.extend([("users", json!(users)), ("seed", json!(seed))])
        }
    }
    Ok(Report {
        fanout: Some(fanout),
        notes,
        ..load.report(ScenarioKind::Fanout, &ctx.run_id, shape, report_options)
    })
}
