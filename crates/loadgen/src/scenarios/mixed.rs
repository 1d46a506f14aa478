//! `mixed`: DeathStarBench's social-network mix on `read`'s world: 60% home-timeline reads
//! (GetFeed), 30% author-post reads (ListAuthorPosts), 10% posts (CreatePost); then the
//! fan-out checks of `fanout` on the posts it wrote.

use std::sync::Arc;

use anyhow::Result;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_proto::post::v1::ListAuthorPostsRequest;
use feedline_proto::post::v1::post_service_client::PostServiceClient;
use serde_json::json;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::posting::create_post;
use super::read::{PAGE, get_feed, pick, setup};
use super::{Context, load_options, now_unix_ms};
use crate::drive::{OpError, drive};
use crate::options::{FeedOptions, ScenarioKind};
use crate::report::Report;
use crate::social::mix;
use crate::stats::{Progress, Recorder};

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
    let recorder = Arc::new(Recorder::new());
    let started_unix_ms = now_unix_ms();
    let progress = Progress::load(recorder.clone(), Some(options.load.duration));
    let feeds: Arc<Vec<FeedServiceClient<Channel>>> = Arc::new(
        world
            .feed_channels
            .iter()
            .map(|c| FeedServiceClient::new(c.clone()))
            .collect(),
    );
    let posts_clients: Arc<Vec<PostServiceClient<Channel>>> = Arc::new(
        world
            .post_channels
            .iter()
            .map(|c| PostServiceClient::new(c.clone()))
            .collect(),
    );
    let (readers, social, full_page) =
        (world.readers.clone(), world.social.clone(), world.full_page);
    let author_page = PAGE.min(options.posts);
    let posts = world.measured.posts.clone();
    let run_id = ctx.run_id.clone();
    drive(&options.load, &recorder, &ctx.stop, move |call| {
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
    let load_end = Instant::now();
    let totals = recorder.finish();
    progress.stop().await;

    let fanout = world
        .measured
        .finish(
            recorder.started(),
            load_end,
            totals.elapsed,
            world.setup_posts,
            options.timelines.cap,
        )
        .await?;
    let mut report_options = load_options(&options.load);
    report_options.extend([
        ("users", json!(options.users)),
        ("authors", json!(options.authors)),
        ("posts", json!(options.posts)),
        ("page_size", json!(PAGE)),
        (
            "celebrity_threshold",
            json!(options.timelines.celebrity_threshold),
        ),
        ("timeline_cap", json!(options.timelines.cap)),
        ("sample_every", json!(options.sample_every)),
        ("connections", json!(ctx.options.connections)),
    ]);
    Ok(Report {
        scenario: ScenarioKind::Mixed,
        run_id: ctx.run_id.clone(),
        started_unix_ms,
        shape: format!("60/30/10 mix; {}", world.shape),
        options: report_options,
        totals,
        fanout: Some(fanout),
        logs: None,
        notes: Vec::new(),
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
    let page = client
        .list_author_posts(request)
        .await
        .map_err(|status| OpError::status(&status))?
        .into_inner();
    if page.posts.len() < full_page {
        return Err(OpError::wrong(
            "ShortPage",
            format!(
                "author {author_id}: {} posts, expected {full_page}",
                page.posts.len()
            ),
        ));
    }
    Ok(())
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
