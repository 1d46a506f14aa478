//! GetFeed against the real stack: pages under concurrent posting, the celebrity merge,
//! rebuilds, deleted posts, the cache miss path and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{FANOUT_DEADLINE, Stack, newest_first};
use feedline_proto::feed::v1::FeedItemSource::{Fanout, Pulled};
use feedline_proto::post::v1::Post;
use feedline_test_harness::{assert_violation, eventually};
use fred::prelude::{
    ClientLike as _, KeysInterface as _, SetsInterface as _, SortedSetsInterface as _,
};
use tonic::Code;

fn tl(user: i64) -> String {
    format!("tl:{{{user}}}")
}

fn pc(post: i64) -> String {
    format!("pc:{{{post}}}")
}

fn member(post: i64) -> String {
    format!("{post:019}")
}

fn ids(posts: &[Post]) -> Vec<i64> {
    posts.iter().map(|p| p.post_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_pages_walked_while_posts_arrive_have_no_gap_and_no_duplicate() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let authors = [
        stack.user("alice").await,
        stack.user("bob").await,
        stack.user("carol").await,
    ];
    for &author in &authors {
        stack.follow(reader, author).await;
    }
    let mut posts = Vec::new();
    for i in 0..60 {
        posts.push(stack.post(authors[i % 3], &format!("post {i}")).await);
    }
    let expected = newest_first(&posts);
    // 60 posts on pages of 100: the first page is the whole feed once fan-out is done.
    stack.wait_for_feed(reader, &expected).await;

    // Authors keep posting during the walk, from another task.
    let writer = {
        let social = stack.social.clone();
        tokio::spawn(async move {
            let mut made = Vec::new();
            for i in 0..40 {
                made.push(
                    social
                        .post(authors[i % 3], &format!("during the walk {i}"))
                        .await,
                );
            }
            made
        })
    };
    let mut walked = Vec::new();
    let mut token = String::new();
    for page in 0..10 {
        let answer = stack.get_feed(reader, Some(6), &token).await.unwrap();
        assert_eq!(answer.items.len(), 6, "page {page} is full");
        assert!(
            page == 9 || !answer.next_page_token.is_empty(),
            "page {page} has a next token"
        );
        walked.extend(
            answer
                .items
                .iter()
                .map(|i| i.post.as_ref().unwrap().post_id),
        );
        token = answer.next_page_token;
        // Let the writer land some posts between pages.
        tokio::task::yield_now().await;
    }
    let during = writer.await.unwrap();
    // New posts are newer than the walk's start: they are above the cursor, never inside it.
    assert_eq!(walked, expected, "exactly the 60 posts, newest first");
    assert!(token.is_empty(), "the walk ended with the timeline");
    let unique: HashSet<i64> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "no duplicate");

    // A new walk sees everything, old and new, once.
    let mut all = posts.clone();
    all.extend(during);
    let expected_all = newest_first(&all);
    let pages = eventually("a walk seeing every post", FANOUT_DEADLINE, || async {
        let (items, pages) = stack.walk(reader, 7).await;
        anyhow::ensure!(ids(&items) == expected_all, "fan-out not caught up");
        Ok(pages)
    })
    .await
    .unwrap();
    assert_eq!(pages, 100usize.div_ceil(7));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_of_the_same_millisecond_page_exactly_by_id() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let author = stack.user("author").await;
    let mut posts = Vec::new();
    for i in 0..30 {
        posts.push(stack.post(author, &format!("tie {i}")).await);
    }
    // A built timeline where every entry has the same score: only the id orders them.
    let mut entries: Vec<(f64, String)> =
        posts.iter().map(|p| (1_000.0, member(p.post_id))).collect();
    entries.push((0.0, "0".to_owned()));
    let () = stack
        .redis
        .zadd(tl(reader), None, None, false, false, entries)
        .await
        .unwrap();
    let mut expected = ids(&posts);
    expected.sort_by(|a, b| b.cmp(a));
    for size in [1, 7, 29, 30, 31] {
        let (items, pages) = stack.walk(reader, size).await;
        assert_eq!(ids(&items), expected, "pages of {size}");
        assert_eq!(pages, 30usize.div_ceil(size as usize), "pages of {size}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_celebrities_are_merged_by_time_and_the_cursor_stays_exact() {
    // Above 2 followers an author is a celebrity: their posts are not fanned out.
    let stack = Stack::start(&[("FEEDLINE_CELEBRITY_THRESHOLD", "2")]).await;
    let reader = stack.user("reader").await;
    let other = stack.user("other").await;
    let star = stack.user("star").await;
    let friend = stack.user("friend").await;
    for fan in [reader, stack.user("fan1").await, stack.user("fan2").await] {
        stack.follow(fan, star).await;
    }
    stack.follow(reader, friend).await;
    stack.follow(other, friend).await;
    let mut posts = Vec::new();
    for i in 0..12 {
        let author = if i % 3 == 0 { friend } else { star };
        posts.push(stack.post(author, &format!("post {i}")).await);
    }
    // fanout-service lists the star once it applies the third follow. A timeline rebuilt
    // before that (the first read) would hold the star's posts as fanned out: wait for it.
    eventually("the star listed", FANOUT_DEADLINE, || async {
        let listed: bool = stack
            .redis
            .sismember("celebrities", star.to_string())
            .await?;
        anyhow::ensure!(listed, "not listed");
        Ok(())
    })
    .await
    .unwrap();
    let expected = newest_first(&posts);
    stack.wait_for_feed(reader, &expected).await;
    let seen = stack.first_page(reader).await;
    for (post_id, source) in &seen {
        let post = posts.iter().find(|p| p.post_id == *post_id).unwrap();
        let want = if post.author_id == star {
            Pulled
        } else {
            Fanout
        };
        assert_eq!(*source, want, "post {post_id} of {}", post.author_id);
    }
    // Pages of 5 cut across both lists: the merge and the cursor stay exact.
    let (items, pages) = stack.walk(reader, 5).await;
    assert_eq!(ids(&items), expected);
    assert_eq!(pages, 3);
    // Someone who does not follow the star never sees the star's posts.
    let friends_only: Vec<i64> = expected
        .iter()
        .copied()
        .filter(|id| {
            posts
                .iter()
                .any(|p| p.post_id == *id && p.author_id == friend)
        })
        .collect();
    stack.wait_for_feed(other, &friends_only).await;
    // After an unfollow, the star's posts leave the feed.
    stack.unfollow(reader, star).await;
    stack.wait_for_feed(reader, &friends_only).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_invalid_argument_and_unknown_users_not_found() {
    let stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    let someone = stack.user("someone").await;
    let author = stack.user("author").await;
    stack.follow(reader, author).await;
    stack.follow(someone, author).await;
    let mut posts = Vec::new();
    for i in 0..3 {
        posts.push(stack.post(author, &format!("p{i}")).await);
    }
    stack.wait_for_feed(reader, &newest_first(&posts)).await;

    for size in [0, -1, 101] {
        let status = stack.get_feed(reader, Some(size), "").await.unwrap_err();
        assert_violation(&status, "page_size");
    }
    let status = stack.get_feed(0, None, "").await.unwrap_err();
    assert_violation(&status, "user_id");
    let token = stack
        .get_feed(reader, Some(1), "")
        .await
        .unwrap()
        .next_page_token;
    assert!(!token.is_empty());
    let mut altered = token.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for forged in ["not-a-token", "AAAA", altered.as_str(), "\u{1F600}"] {
        let status = stack.get_feed(reader, Some(1), forged).await.unwrap_err();
        assert_violation(&status, "page_token");
    }
    // A token is the reader's: another user cannot resume it.
    let status = stack.get_feed(someone, Some(1), &token).await.unwrap_err();
    assert_violation(&status, "page_token");
    // The token still works for its owner.
    assert_eq!(
        stack
            .get_feed(reader, Some(1), &token)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let status = stack
        .get_feed(someone + 1_000_000, None, "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    // A user who follows nobody has an empty feed, not an error.
    let loner = stack.user("loner").await;
    let page = stack.get_feed(loner, None, "").await.unwrap();
    assert!(page.items.is_empty() && page.next_page_token.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_unavailable_not_an_error_of_the_request() {
    let mut stack = Stack::start(&[]).await;
    let reader = stack.user("reader").await;
    stack.get_feed(reader, None, "").await.unwrap();
    stack.cluster.stop();
    let start = Instant::now();
    let status = stack.get_feed(reader, None, "").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "answered in {:?}",
        start.elapsed()
    );
    stack.stop().await;
}

mod repair;
