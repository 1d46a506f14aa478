//! The data every run reads: timelines and cached posts written straight into the cluster in
//! the layout fan-out leaves (`feedline_redis::keys`), so reads never need post-service.
//!
//! A pool of POSTS posts (ids increasing with time, one a second up to now, ~140-byte bodies),
//! each cached protobuf-encoded in `pc:{id}`; per user, `tl:{user}` holds a random CAP of them
//! scored by creation time, plus the sentinel that marks the timeline as built.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, ensure};
use feedline_proto::post::v1::Post;
use feedline_proto::prost::Message as _;
use feedline_redis::keys;
use fred::bytes::Bytes;
use fred::prelude::{Client, KeysInterface as _, SortedSetsInterface as _};
use fred::types::{Expiration, Value};

use crate::social::{Rng, mix};

/// Posts in the pool the timelines draw from.
pub const POSTS: usize = 20_000;
/// Entries per timeline (fanout-service's default trim cap), the sentinel not counted.
pub const CAP: usize = 800;
/// The id of the oldest post; the others follow one by one.
const FIRST_POST_ID: i64 = 10_000_001;
/// Authors the pool's posts are spread over.
const AUTHORS: i64 = 500;
/// Body length of every post, in bytes.
const BODY_BYTES: usize = 140;
/// fanout-service's and feed-read-service's default `pc:` lifetime.
const CACHE_TTL_SECS: i64 = 7 * 24 * 3600;
/// Commands per setup pipeline: posts, then timelines (each of CAP + 1 members).
const POSTS_PER_PIPELINE: usize = 1_000;
const TIMELINES_PER_PIPELINE: usize = 50;

/// What the setup wrote, and how long it took.
pub struct Setup {
    pub users: usize,
    pub took: Duration,
}

/// Read `n`'s user of a run seeded `seed`: uniform over users 1..=users.
pub fn pick(seed: u64, n: u64, users: usize) -> i64 {
    1 + (mix(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % users as u64) as i64
}

/// A seed that differs per run.
pub fn run_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes the post cache and `users` timelines, pipelined; checks one timeline's size.
pub async fn fill(redis: &Client, users: usize) -> Result<Setup> {
    let started = Instant::now();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    // Post i is (POSTS - i) seconds old: the newest is the last.
    let millis = |i: usize| now_ms - (POSTS - i) as i64 * 1000;
    let post_id = |i: usize| FIRST_POST_ID + i as i64;

    let indices: Vec<usize> = (0..POSTS).collect();
    for chunk in indices.chunks(POSTS_PER_PIPELINE) {
        let pipeline = redis.pipeline();
        for &i in chunk {
            let post = Post {
                post_id: post_id(i),
                author_id: 1 + post_id(i) % AUTHORS,
                body: body(i),
                create_time: Some(feedline_proto::millis_to_timestamp(millis(i))),
            };
            let () = pipeline
                .set(
                    keys::post_cache(post.post_id),
                    Bytes::from(post.encode_to_vec()),
                    Some(Expiration::EX(CACHE_TTL_SECS)),
                    None,
                    false,
                )
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
    }

    let mut rng = Rng::new(0x5EED);
    let user_ids: Vec<i64> = (1..=users as i64).collect();
    for chunk in user_ids.chunks(TIMELINES_PER_PIPELINE) {
        let pipeline = redis.pipeline();
        for &user in chunk {
            let mut chosen = HashSet::with_capacity(CAP);
            while chosen.len() < CAP {
                chosen.insert(rng.below(POSTS as u64) as usize);
            }
            let mut entries: Vec<(f64, String)> = chosen
                .into_iter()
                .map(|i| (millis(i) as f64, keys::member(post_id(i))))
                .collect();
            entries.push((0.0, keys::SENTINEL.to_owned()));
            let () = pipeline
                .zadd(keys::timeline(user), None, None, false, false, entries)
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
    }

    let size: usize = redis.zcard(keys::timeline(users as i64)).await?;
    ensure!(
        size == CAP + 1,
        "timeline of user {users} has {size} entries after the setup, not {}",
        CAP + 1
    );
    Ok(Setup {
        users,
        took: started.elapsed(),
    })
}

/// A BODY_BYTES-byte text, different per post.
fn body(i: usize) -> String {
    const FILLER: &str = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do \
                          eiusmod tempor incididunt ut labore et dolore magna aliqua. ";
    let mut text = format!("benchmark post {i}: ");
    let filler = FILLER.chars().cycle().skip(i % FILLER.len());
    text.extend(filler.take(BODY_BYTES.saturating_sub(text.len())));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_set_length() {
        for i in [0, 7, 19_999] {
            assert_eq!(body(i).len(), BODY_BYTES);
        }
        assert_ne!(body(1), body(2));
    }

    #[test]
    fn picks_stay_in_range_and_cover_it() {
        let mut seen = [false; 10];
        for n in 0..1000 {
            let user = pick(7, n, 10);
            assert!((1..=10).contains(&user));
            seen[user as usize - 1] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
