//! What the failover did: the writes it lost, their repair by the replay, and the load that drove it.

use super::*;

/// The state a complete fan-out leaves.
pub(super) struct Expected {
    /// Each checked user's timeline, newest first.
    pub(super) timelines: Vec<(i64, Vec<i64>)>,
    /// The deleted posts, all by `author`.
    pub(super) deleted: HashSet<i64>,
    pub(super) author: i64,
}

/// What differs from the expected state, summed over every timeline.
#[derive(Debug, Default)]
pub(super) struct Damage {
    /// Expected entries absent (acknowledged posts lost, a follow's backfill lost).
    pub(super) missing: usize,
    /// Served entries present that must not be (a lost unfollow's or retraction's removals).
    pub(super) unexpected: usize,
    /// Timelines whose served entries are not exactly their expected list (each post once,
    /// newest first).
    pub(super) wrong_timelines: usize,
    /// Places a deleted post is still served from (a timeline or its cache, its tombstone lost)
    /// or listed in (its author's list, which backfills and unfollows read).
    pub(super) deleted_served: usize,
    /// Entries of deleted posts whose tombstone is in place: never served (readers hydrate
    /// through `pc:` and drop them), but left in a timeline: still damage.
    pub(super) dangling: usize,
    /// Whose timelines hold them.
    pub(super) dangling_in: BTreeSet<i64>,
    /// Timelines that failed to read.
    pub(super) unreadable: usize,
    /// The first few wrong entries, `user: +post` (there, not expected), `user: -post`
    /// (expected, not there) or `user: ~post` (dangling).
    pub(super) examples: Vec<String>,
}

impl Damage {
    pub(super) async fn count(stack: &Stack, expected: &Expected) -> Damage {
        let Expected {
            timelines,
            deleted,
            author,
            ..
        } = expected;
        let mut damage = Damage::default();
        let mut tombstoned = HashSet::new();
        for &post in deleted {
            let cached: Result<Option<String>, _> = stack.redis.get(keys::post_cache(post)).await;
            match cached.as_ref().map(|c| c.as_deref().unwrap_or_default()) {
                Ok("") => _ = tombstoned.insert(post),
                _ => damage.deleted_served += 1,
            }
            let listed: Result<Option<f64>, _> = stack
                .redis
                .zscore(keys::author_posts(*author), keys::member(post))
                .await;
            damage.deleted_served += usize::from(!matches!(listed, Ok(None)));
        }
        for (user, list) in timelines {
            let Ok(mut timeline) = stack.timelines.timeline(*user, 10_000).await else {
                damage.unreadable += 1;
                continue;
            };
            let dangling: Vec<i64> = timeline
                .extract_if(.., |p| tombstoned.contains(p))
                .collect();
            damage.dangling += dangling.len();
            if !dangling.is_empty() {
                damage.dangling_in.insert(*user);
            }
            let (want, got): (HashSet<_>, HashSet<_>) =
                (list.iter().collect(), timeline.iter().collect());
            let missing: Vec<_> = want.difference(&got).collect();
            let unexpected: Vec<_> = got.difference(&want).collect();
            damage.missing += missing.len();
            damage.unexpected += unexpected.len();
            damage.deleted_served += timeline.iter().filter(|p| deleted.contains(p)).count();
            damage.wrong_timelines += usize::from(timeline != *list);
            let wrong = (unexpected.iter().map(|p| format!("{user}: +{p}")))
                .chain(missing.iter().map(|p| format!("{user}: -{p}")))
                .chain(dangling.iter().map(|p| format!("{user}: ~{p}")));
            let room = 8 - damage.examples.len().min(8);
            damage.examples.extend(wrong.take(room));
        }
        damage
    }

    /// The counts, where the dangling entries are, and a few examples.
    pub(super) fn summary(&self) -> String {
        format!(
            "{} missing, {} unexpected, {} timelines wrong, {} deleted served, {} dangling in \
             {} timelines ({:?}), {} unreadable; e.g. {:?}",
            self.missing,
            self.unexpected,
            self.wrong_timelines,
            self.deleted_served,
            self.dangling,
            self.dangling_in.len(),
            self.dangling_in.iter().take(4).collect::<Vec<_>>(),
            self.unreadable,
            self.examples
        )
    }

    /// Nothing differs: nothing served, and no dangling entry either. A replayed unfollow
    /// takes out of the former follower's timeline the followee's recent deletions (`ar:`)
    /// as well as the posts of `ap:`, so a post deleted after an unfollow whose removals the
    /// failover lost does not stay behind.
    pub(super) fn is_none(&self) -> bool {
        let Damage {
            missing,
            unexpected,
            wrong_timelines,
            deleted_served,
            dangling,
            unreadable,
            ..
        } = *self;
        missing + unexpected + wrong_timelines + deleted_served + dangling + unreadable == 0
    }
}

/// Ok once nothing differs from `expected`.
pub(super) async fn repaired(stack: &Stack, expected: &Expected) -> anyhow::Result<()> {
    let damage = Damage::count(stack, expected).await;
    anyhow::ensure!(damage.is_none(), "{}", damage.summary());
    Ok(())
}

/// How many of `users`' timelines hold `post`, plus one if its cache still holds it (an empty
/// string is the tombstone; an absent key is read from post-service, which knows).
pub(super) async fn served(stack: &Stack, users: &[i64], post: i64) -> usize {
    let mut count = 0;
    for &user in users {
        count += usize::from(!matches!(has_member(stack, user, post).await, Ok(false)));
    }
    let cached: Result<Option<String>, _> = stack.redis.get(keys::post_cache(post)).await;
    let tombstoned = matches!(&cached, Ok(None)) || matches!(&cached, Ok(Some(v)) if v.is_empty());
    count + usize::from(!tombstoned)
}

pub(super) async fn has_member(stack: &Stack, user: i64, post: i64) -> anyhow::Result<bool> {
    let score: Option<f64> = stack
        .redis
        .zscore(keys::timeline(user), keys::member(post))
        .await?;
    Ok(score.is_some())
}

pub(super) async fn wait_for_member(stack: &Stack, user: i64, post: i64) {
    eventually("post delivered", DEADLINE, || async {
        anyhow::ensure!(has_member(stack, user, post).await?, "not yet");
        Ok(())
    })
    .await
    .unwrap();
}

/// `count` new users, `prefix0`, `prefix1`, ...
pub(super) async fn users(stack: &Stack, prefix: &str, count: usize) -> Vec<i64> {
    let handles: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    join_all(handles.iter().map(|handle| stack.user(handle))).await
}

/// The index (in `master_addrs`) of the master whose slots hold the timelines of most of 16
/// new users, and four of those users.
pub(super) async fn victim_and_its_users(stack: &Stack) -> (usize, [i64; 4]) {
    let routing = stack.redis.cached_cluster_state().expect("routing known");
    let masters = stack.cluster.master_addrs();
    let mut by_master: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for user in users(stack, "extra", 16).await {
        let slot = fred::util::redis_keyslot(keys::timeline(user).as_bytes());
        let server = routing.get_server(slot).expect("every slot served");
        let index = masters.iter().position(|m| m.port() == server.port);
        by_master
            .entry(index.expect("a known master"))
            .or_default()
            .push(user);
    }
    let (victim, users) = by_master.into_iter().max_by_key(|(_, u)| u.len()).unwrap();
    (
        victim,
        users[..4]
            .try_into()
            .expect("16 users over 3 masters: one has 6"),
    )
}

/// Post ids of `posts` less `deleted`, as a timeline orders them: by creation time, then id,
/// newest first.
pub(super) fn newest_first<'a>(
    posts: impl Iterator<Item = &'a Post>,
    deleted: &HashSet<i64>,
) -> Vec<i64> {
    let mut entries: Vec<(i64, i64)> = posts
        .filter(|p| !deleted.contains(&p.post_id))
        .map(|p| {
            let created = p
                .create_time
                .as_ref()
                .and_then(feedline_proto::timestamp_to_millis);
            (created.expect("a post has a creation time"), p.post_id)
        })
        .collect();
    entries.sort_unstable_by(|a, b| b.cmp(a));
    entries.into_iter().map(|(_, id)| id).collect()
}

/// Creates posts at [`RATE`] per second, round-robin over `authors`, without waiting for the
/// answers (open loop), until `stop`; returns every acknowledged post. Every call must succeed:
/// post-service does not depend on Redis, and an unanswered call could have committed a post
/// that no expectation counts.
pub(super) async fn load(social: Social, authors: Vec<i64>, stop: CancellationToken) -> Vec<Post> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE);
    let mut calls = JoinSet::new();
    for i in 0.. {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let request = CreatePostRequest {
            author_id: authors[i % authors.len()],
            body: format!("load {i}"),
            idempotency_key: String::new(),
        };
        let mut posts = social.posts.clone();
        calls.spawn(async move { posts.create_post(request).await });
    }
    let mut acked = Vec::new();
    while let Some(answer) = calls.join_next().await {
        acked.push(
            answer
                .unwrap()
                .expect("CreatePost")
                .into_inner()
                .post
                .unwrap(),
        );
    }
    acked
}
