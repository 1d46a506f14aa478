//! `mixed`: DeathStarBench's social-network mix on `read`'s world: 60% home-timeline reads
//! (GetFeed), 30% author-post reads (ListAuthorPosts), 10% posts (CreatePost); then the
//! fan-out checks of `fanout` on the posts it wrote.

use std::sync::Arc;

use crate::connect::Channel;
use anyhow::Result;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::post::v1::ListAuthorPostsRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use serde_json::json;

use super::Context;
use super::load::measure;
use super::posting::create_post;
use super::read::{PAGE, check_first_page, get_feed, pick, report_options, setup};
use crate::connect;
use crate::drive::OpError;
use crate::options::{FeedOptions, ScenarioKind};
use crate::report::Report;
use crate::social::mix;

/// Percent of calls that read a home timeline; the next `AUTHOR_READS` read an author's posts;
/// the rest post.
const FEED_READS: u64 = 60;
const AUTHOR_READS: u64 = 30;

/// Which operation call `n` is: the same call number always picks the same one, and the
/// shares hold over any stretch of calls.
pub fn operation(n: u64) -> &'static str {
    match mix(n ^ 0x0DEA_7A5B) % 100 {
        r if r < FEED_READS => "GetFeed",
        r if r < FEED_READS + AUTHOR_READS => "ListAuthorPosts",
        _ => "CreatePost",
    }
}

/// Runs the scenario.
pub async fn run(options: &FeedOptions, ctx: &Context<'_>) -> Result<Report> {
    let world = setup(options, ctx).await?;
    eprintln!(
        "load: 60% GetFeed, 30% ListAuthorPosts, 10% CreatePost; {}",
        world.shape
    );
    let feeds = Arc::new(connect::clients(
        &world.feed_channels,
        FeedServiceClient::new,
    ));
    let posts_clients = Arc::new(connect::clients(
        &world.post_channels,
        PostServiceClient::new,
    ));
    let (readers, social, full_page) =
        (world.readers.clone(), world.social.clone(), world.full_page);
    let author_page = PAGE.min(options.posts);
    let posts = world.measured.posts.clone();
    let run_id = ctx.run_id.clone();
    let load = measure(&options.load, &ctx.stop, move |call| {
        let op = operation(call.n);
        let reader = social.ids[pick(&readers, call.n, 0x5EED) as usize];
        let author = social.authors[(mix(call.n ^ 0xA17) % social.authors.len() as u64) as usize];
        let author_id = social.ids[author as usize];
        let mut feed = feeds[call.vu % feeds.len()].clone();
        let mut post = posts_clients[call.vu % posts_clients.len()].clone();
        let posts = posts.clone();
        let body = format!("loadgen {run_id} mixed post {}", call.n);
        async move {
            let result = match op {
                "GetFeed" => get_feed(&mut feed, reader, full_page).await,
                "ListAuthorPosts" => list_author_posts(&mut post, author_id, author_page).await,
                _ => match create_post(&mut post, author_id, body).await {
                    Ok(created) => posts.record(author, created.as_ref(), true),
                    Err(error) => Err(error),
                },
            };
            (op, result)
        }
    })
    .await;

    let fanout = world
        .measured
        .finish(&load, world.setup_posts, options.timelines.cap, false)
        .await?;
    let timelines = [
        (
            "celebrity_threshold",
            json!(options.timelines.celebrity_threshold),
        ),
        ("timeline_cap", json!(options.timelines.cap)),
        ("sample_every", json!(options.sample_every)),
    ];
    let shape = format!("60/30/10 mix; {}", world.shape);
    Ok(Report {
        fanout: Some(fanout),
        ..load.report(
            ScenarioKind::Mixed,
            &ctx.run_id,
            shape,
            report_options(options, ctx, timelines),
        )
    })
}

/// The first page (20) of `author_id`'s posts; fewer than `full_page` is a wrong answer.
async fn list_author_posts(
    client: &mut PostServiceClient<Channel>,
    author_id: i64,
    full_page: usize,
) -> Result<(), OpError> {
    let request = ListAuthorPostsRequest {
        author_id,
        page_size: Some(PAGE as i32),
        page_token: String::new(),
    };
    let answer = client.list_author_posts(request).await;
    check_first_page(
        answer.map(|page| page.into_inner().posts.len()),
        full_page,
        ("author", author_id),
        "posts",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_60_30_10() {
        let mut counts = std::collections::HashMap::new();
        for n in 0..100_000 {
            *counts.entry(operation(n)).or_insert(0u32) += 1;
        }
        let share = |op| f64::from(counts[op]) / 100_000.0;
        assert!((share("GetFeed") - 0.60).abs() < 0.01);
        assert!((share("ListAuthorPosts") - 0.30).abs() < 0.01);
        assert!((share("CreatePost") - 0.10).abs() < 0.01);
    }
}
