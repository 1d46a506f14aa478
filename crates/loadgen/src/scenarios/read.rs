//! `read`: readers following authors, timelines filled by posting and fan-out first, then
//! GetFeed (20 items) of random readers. Also the setup `mixed` starts from.

use std::sync::Arc;

use crate::connect::Channel;
use anyhow::{Result, anyhow};
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use tonic::Status;

use super::load::measure;
use super::measure::FanoutRun;
use super::posting::{wait_fanned_out, write_posts};
use super::{Context, describe_load, load_options};
use crate::connect;
use crate::drive::OpError;
use crate::options::{FeedOptions, ScenarioKind};
use crate::report::Report;
use crate::social::{self, Plan, Social, mix};

/// Items per GetFeed page: the contract's default.
pub const PAGE: usize = 20;
/// Warm-up reads in flight.
const WARM_CONCURRENCY: usize = 32;

/// The world `read` and `mixed` load.
pub struct FeedWorld {
    pub post_channels: Vec<Channel>,
    pub feed_channels: Vec<Channel>,
    pub social: Arc<Social>,
    /// Users who follow the authors.
    pub readers: Arc<Vec<u32>>,
    pub measured: FanoutRun,
    /// Posts written before the load.
    pub setup_posts: usize,
    /// Items a first page must hold: min(20, posts of all authors before the load).
    pub full_page: usize,
    pub shape: String,
}

/// Creates the readers and authors, fills the timelines, reads each one once.
pub async fn setup(options: &FeedOptions, ctx: &Context<'_>) -> Result<FeedWorld> {
    connect::check_health(&[ctx.post(), ctx.fanout(), ctx.feed()]).await?;
    let redis = connect::redis(&ctx.target().redis_url).await?;
    let post_channels = connect::channels(ctx.post(), ctx.options.connections).await?;
    let feed_channels = connect::channels(ctx.feed(), ctx.options.connections).await?;
    let shape = format!(
        "{} readers following {} authors with {} posts each, {}",
        options.users,
        options.authors,
        options.posts,
        describe_load(&options.load)
    );
    eprintln!("setting up (run {}): {shape}", ctx.run_id);
    let plan = Plan::fixed(options.authors, options.users);
    let social = Arc::new(social::create(&plan, &ctx.run_id, &post_channels).await?);
    let measured = FanoutRun::start(
        redis,
        social.clone(),
        options.timelines.celebrity_threshold,
        options.sample_every,
    );
    write_posts(
        &post_channels,
        &social,
        &social.authors,
        options.posts,
        &ctx.run_id,
        &measured.posts,
    )
    .await?;
    let took = wait_fanned_out(measured.redis(), &social, &measured.posts, &measured.skip).await?;
    eprintln!("timelines filled in {:.1} s", took.as_secs_f64());

    let readers: Vec<u32> = (0..social.ids.len() as u32)
        .filter(|&u| !social.followees[u as usize].is_empty())
        .collect();
    let full_page = PAGE.min(options.authors * options.posts);
    // One read of each timeline first: the first read builds it (the sentinel), which is
    // not what a steady-state read costs.
    let clients = connect::clients(&feed_channels, FeedServiceClient::new);
    stream::iter(readers.iter().enumerate())
        .map(|(i, &reader)| {
            let mut client = clients[i % clients.len()].clone();
            let user = social.ids[reader as usize];
            async move {
                get_feed(&mut client, user, full_page)
                    .await
                    .map_err(|e| anyhow!("GetFeed of user {user}: {}: {}", e.kind, e.message))
            }
        })
        .buffer_unordered(WARM_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    let setup_posts = measured.posts.len();
    Ok(FeedWorld {
        post_channels,
        feed_channels,
        social,
        readers: Arc::new(readers),
        measured,
        setup_posts,
        full_page,
        shape,
    })
}

/// The first page of `user`'s feed; fewer than `full_page` items is a wrong answer.
pub async fn get_feed(
    client: &mut FeedServiceClient<Channel>,
    user: i64,
    full_page: usize,
) -> Result<(), OpError> {
    let request = GetFeedRequest {
        user_id: user,
        page_size: Some(PAGE as i32),
        page_token: String::new(),
    };
    let answer = client.get_feed(request).await;
    check_first_page(
        answer.map(|page| page.into_inner().items.len()),
        full_page,
        ("user", user),
        "items",
    )
}

/// How a first page went: a failed call is an error of its status code; fewer entries than
/// `full_page` is a wrong answer, `ShortPage`, naming the page's `owner` ("user", id).
pub fn check_first_page(
    entries: Result<usize, Status>,
    full_page: usize,
    owner: (&str, i64),
    what: &str,
) -> Result<(), OpError> {
    let entries = entries.map_err(|status| OpError::status(&status))?;
    if entries < full_page {
        let (whose, id) = owner;
        return Err(OpError::wrong(
            "ShortPage",
            format!("{whose} {id}: {entries} {what}, expected {full_page}"),
        ));
    }
    Ok(())
}

/// A reader picked by call number: spread evenly, the same for the same call.
pub fn pick(readers: &[u32], n: u64, salt: u64) -> u32 {
    readers[(mix(n ^ salt) % readers.len().max(1) as u64) as usize]
}

/// Runs the scenario.
pub async fn run(options: &FeedOptions, ctx: &Context<'_>) -> Result<Report> {
    let world = setup(options, ctx).await?;
    // Nothing to sample: reads write no posts.
    world.measured.posts.stop_sampling();
    eprintln!("load: {}", world.shape);
    let clients = Arc::new(connect::clients(
        &world.feed_channels,
        FeedServiceClient::new,
    ));
    let (readers, social, full_page) =
        (world.readers.clone(), world.social.clone(), world.full_page);
    let load = measure(&options.load, &ctx.stop, move |call| {
        let user = social.ids[pick(&readers, call.n, 0x5EED) as usize];
        let mut client = clients[call.vu % clients.len()].clone();
        async move { ("GetFeed", get_feed(&mut client, user, full_page).await) }
    })
    .await;
    Ok(load.report(
        ScenarioKind::Read,
        &ctx.run_id,
        world.shape,
        report_options(options, ctx, []),
    ))
}

/// The options `read` and `mixed` report: the load's, the world's, `extra`, the connections.
pub fn report_options(
    options: &FeedOptions,
    ctx: &Context<'_>,
    extra: impl IntoIterator<Item = (&'static str, Value)>,
) -> Vec<(&'static str, Value)> {
    let mut report_options = load_options(&options.load);
    report_options.extend([
        ("users", json!(options.users)),
        ("authors", json!(options.authors)),
        ("posts", json!(options.posts)),
        ("page_size", json!(PAGE)),
    ]);
    report_options.extend(extra);
    report_options.push(("connections", json!(ctx.options.connections)));
    report_options
}
