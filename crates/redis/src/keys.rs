//! The Redis layout both sides of the timelines rely on: key names, the member encoding and
//! which inserts trim. How each key is written and read (the sentinel, the trim ranks, `SET NX`,
//! the TTL) is `crate::timeline`'s, which fanout-service and feed-read-service both call.
//! post-service keeps its per-user rate-limit counters here too (`rl:`).
//!
//! `{..}` is a cluster hash tag: a user's `tl:`, `ap:`, `ar:` and `fl:` keys share one slot, so the
//! reads and writes an event makes for one author go to one node in one pipeline.

use feedline_proto::post::v1::Post;

/// Member that marks a `tl:`, `ap:` or `fl:` key as built, so an empty list differs from a
/// missing one. In sorted sets its score is 0, which (with "0" sorting before every padded id)
/// keeps it at rank 0, where the trims spare it.
pub const SENTINEL: &str = "0";

/// Home timeline of `user`: sorted set of [`member`]s scored by creation time in Unix ms.
/// fanout-service adds to it; feed-read-service builds it (adding [`SENTINEL`]) when a read
/// finds it without the sentinel, so a timeline fanned into before it was built is rebuilt.
pub fn timeline(user: i64) -> String {
    format!("tl:{{{user}}}")
}

/// `author`'s own newest posts, same encoding as a timeline, plus [`SENTINEL`].
pub fn author_posts(author: i64) -> String {
    format!("ap:{{{author}}}")
}

/// Set of `author`'s follower ids (decimal), plus [`SENTINEL`].
pub fn followers(author: i64) -> String {
    format!("fl:{{{author}}}")
}

/// `author`'s recently deleted posts: sorted set of [`member`]s, all scored 0, so rank order is
/// id order (oldest first) and a trim to the newest `cap` keeps the deletions most likely still
/// in some timeline. A RetractPost adds to it; a RemoveFollow removes these members from the
/// follower's timeline as well as those of [`author_posts`]: a post deleted after an unfollow
/// whose writes were lost (a Redis failover) is no longer in `ap:`, and the replayed unfollow
/// must still take it out of the former follower's timeline.
pub fn author_retracted(author: i64) -> String {
    format!("ar:{{{author}}}")
}

/// Cached protobuf `Post`; the empty string is a deleted post's tombstone.
pub fn post_cache(post: i64) -> String {
    format!("pc:{{{post}}}")
}

/// Set of the authors that ever had more followers than the celebrity threshold (decimal ids).
/// fanout-service adds an author when it decides not to fan out their posts; readers pull the
/// posts of the ones a user follows from `ap:`. Never shrinks: pulling an author who fell back
/// below the threshold costs a read but loses nothing (the merge de-duplicates).
pub const CELEBRITIES: &str = "celebrities";

/// Writes of one kind (`kind`: `posts`, `follows`) `user` made in its current rate-limit
/// window: an integer post-service increments before each such write, which expires when the
/// window ends (the window starts at the first counted write). Same hash tag as the user's
/// other keys.
pub fn rate_limit(user: i64, kind: &str) -> String {
    format!("rl:{{{user}}}:{kind}")
}

/// A sorted-set entry: (score = creation time in Unix ms, member = padded post id).
pub type Entry = (f64, String);

/// Latest creation time a score holds exactly (2^53 ms, the year 287,396).
const MAX_SCORE_MS: i64 = 1 << 53;

/// A post's sorted-set entry; None without a valid `create_time`, or one a score cannot hold
/// exactly and a reader's page token cannot name: before 1970 or past 2^53 ms (found by
/// fuzzing; post-service never writes such posts, so only a malformed event has one).
pub fn entry_of(post: &Post) -> Option<Entry> {
    let millis = feedline_proto::timestamp_to_millis(post.create_time.as_ref()?)?;
    (0..=MAX_SCORE_MS)
        .contains(&millis)
        .then(|| (millis as f64, member(post.post_id)))
}

/// A post id as a sorted-set member: 19 zero-padded digits, so posts with equal scores order
/// by id lexicographically, which is numerically (i64::MAX has 19 digits).
pub fn member(post_id: i64) -> String {
    format!("{post_id:019}")
}

/// The post id of a member; None for the sentinel or anything that is not a positive id.
pub fn parse_member(member: &str) -> Option<i64> {
    member.parse().ok().filter(|&id: &i64| id > 0)
}

/// Whether inserting `post_id` into `user`'s timeline also trims it: about 1 in `every`
/// inserts, decided by the ids alone so that a replay trims exactly when the first try did.
///
/// The ids are mixed rather than used raw: snowflake ids made at low rates end in 22 zero
/// bits, so `(post_id ^ user) % every` would depend on the user alone and some timelines would
/// never be trimmed.
pub fn should_trim(post_id: i64, user: i64, every: u64) -> bool {
    mix((post_id ^ user) as u64).is_multiple_of(every.max(1))
}

/// splitmix64's finalizer: every input bit affects every output bit.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_only_for_times_a_score_and_a_cursor_hold() {
        let post = |millis: i64| Post {
            post_id: 7,
            create_time: Some(feedline_proto::millis_to_timestamp(millis)),
            ..Default::default()
        };
        assert_eq!(entry_of(&post(0)), Some((0.0, member(7))));
        let now = 1_765_000_000_000;
        assert_eq!(entry_of(&post(now)), Some((now as f64, member(7))));
        assert_eq!(
            entry_of(&post(MAX_SCORE_MS)).map(|e| e.0 as i64),
            Some(MAX_SCORE_MS)
        );
        for refused in [-1, MAX_SCORE_MS + 1, i64::MIN] {
            assert_eq!(entry_of(&post(refused)), None, "{refused}");
        }
        assert_eq!(entry_of(&Post::default()), None, "no create_time");
    }

    #[test]
    fn members_sort_lexicographically_as_ids_sort_numerically() {
        let mut ids = vec![
            1,
            9,
            10,
            99,
            100,
            1 << 22,
            1_234_567_890_123,
            i64::MAX - 1,
            i64::MAX,
        ];
        ids.reverse();
        let mut members: Vec<String> = ids.iter().map(|&id| member(id)).collect();
        members.sort();
        ids.sort();
        let decoded: Vec<i64> = members.iter().filter_map(|m| parse_member(m)).collect();
        assert_eq!(decoded, ids);
        assert!(members.iter().all(|m| m.len() == 19));
        // The sentinel sorts first, so it stays at rank 0 even beside a score-0 post.
        assert!(members.iter().all(|m| SENTINEL < m.as_str()));
        assert_eq!(parse_member(SENTINEL), None);
    }

    #[test]
    fn keys_use_hash_tags() {
        assert_eq!(timeline(42), "tl:{42}");
        assert_eq!(author_posts(42), "ap:{42}");
        assert_eq!(followers(42), "fl:{42}");
        assert_eq!(post_cache(7), "pc:{7}");
        assert_eq!(rate_limit(42, "posts"), "rl:{42}:posts");
    }

    #[test]
    fn trims_about_one_in_every_even_for_snowflake_ids() {
        // Snowflake ids made one per millisecond: the low 22 bits are all zero.
        let posts: Vec<i64> = (1..=4000).map(|ms| (ms + 1_000_000) << 22).collect();
        for user in [4 << 22, (5 << 22) | 1, 7] {
            let trims = posts.iter().filter(|&&p| should_trim(p, user, 4)).count();
            assert!((800..1200).contains(&trims), "user {user}: {trims} trims");
            // Deterministic: the same pair always decides the same way.
            assert!(
                posts
                    .iter()
                    .all(|&p| should_trim(p, user, 4) == should_trim(p, user, 4))
            );
        }
        assert!(posts.iter().all(|&p| should_trim(p, 1, 0)));
    }
}
