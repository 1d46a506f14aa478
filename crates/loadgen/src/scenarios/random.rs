//! The world of issue 13's realistic shapes, shared by `fanout --random-followers` and
//! `follow-storm`: authors followed by users drawn at random among many, posting at random.
//!
//! Setup order matters for measuring follows: users first, then one post per author (which
//! makes fan-out build the author's follower index, still empty, so that from then on the
//! index counts exactly the follow events applied, see `timelines::follows`), then every
//! timeline filled to the cap. The follows come after, each scenario its own way.

use std::sync::Arc;
use std::time::Duration;

use crate::connect::Channel;
use anyhow::Result;
use fred::prelude::Client;

use super::Context;
use super::load::Measured;
use super::measure::FanoutRun;
use super::posting::{first_posts, post_load};
use crate::connect;
use crate::options::{Load, TimelineSettings};
use crate::social::{self, Plan, Social, mix};
use crate::timelines::{follows, raw};

/// How long fan-out may take to build the authors' indexes after their first posts.
const BUILD_LIMIT: Duration = Duration::from_secs(180);

/// Users, their first posts, full timelines; the follows still to make.
pub struct RandomWorld {
    pub channels: Vec<Channel>,
    /// The planned graph over the created users (its follows not made yet).
    pub social: Arc<Social>,
    pub measured: FanoutRun,
    /// The authors' user ids, whose follower indexes count applied follows.
    pub author_ids: Vec<i64>,
    /// Posts written before the load (one per author).
    pub setup_posts: usize,
}

impl RandomWorld {
    /// The Redis Cluster.
    pub fn redis(&self) -> &Client {
        self.measured.redis()
    }
}

/// Creates `plan`'s users, one post per author (and waits for their follower indexes), and
/// fills the timeline of every user who will follow someone to `timelines.cap` entries.
pub async fn setup(
    plan: &Plan,
    timelines: &TimelineSettings,
    sample_every: u64,
    ctx: &Context<'_>,
) -> Result<RandomWorld> {
    connect::check_health(&[ctx.post(), ctx.fanout()]).await?;
    let redis = connect::redis(&ctx.target().redis_url).await?;
    let channels = connect::channels(ctx.post(), ctx.options.connections).await?;
    let ids = social::create_users(plan, &ctx.run_id, &channels).await?;
    let social = Arc::new(Social::new(plan, ids));
    let measured = FanoutRun::start(
        redis,
        social.clone(),
        timelines.celebrity_threshold,
        sample_every,
    );
    first_posts(&channels, &social, &ctx.run_id, &measured.posts).await?;
    let author_ids: Vec<i64> = social
        .authors
        .iter()
        .map(|&a| social.ids[a as usize])
        .collect();
    let took = follows::wait_built(measured.redis(), &author_ids, BUILD_LIMIT).await?;
    eprintln!(
        "first posts placed, follower indexes built in {:.1} s",
        took.as_secs_f64()
    );
    let following: Vec<i64> = social
        .followees
        .iter()
        .enumerate()
        .filter(|(_, followees)| !followees.is_empty())
        .map(|(user, _)| social.ids[user])
        .collect();
    let started = std::time::Instant::now();
    raw::fill(measured.redis(), &following, timelines.cap).await?;
    eprintln!(
        "filled {} timelines to {} entries in {:.1} s",
        following.len(),
        timelines.cap,
        started.elapsed().as_secs_f64()
    );
    let setup_posts = measured.posts.len();
    Ok(RandomWorld {
        channels,
        social,
        measured,
        author_ids,
        setup_posts,
    })
}

/// Posts as `load` says, each by a random author (see [`random_author`]).
pub async fn post_at_random(
    world: &RandomWorld,
    load: &Load,
    ctx: &Context<'_>,
    seed: u64,
) -> Measured {
    let social = world.social.clone();
    post_load(
        load,
        ctx,
        &world.channels,
        world.social.clone(),
        world.measured.posts.clone(),
        move |call| random_author(&social, call.n, seed),
    )
    .await
}

/// The author of post `n` of the load: picked by `mix(n ^ seed)`, so a seed gives the same
/// sequence of authors every run.
pub fn random_author(social: &Social, n: u64, seed: u64) -> u32 {
    let pick = mix(n ^ seed.rotate_left(17)) % social.authors.len().max(1) as u64;
    social.authors[pick as usize]
}
