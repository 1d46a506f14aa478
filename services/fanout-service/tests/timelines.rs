//! The timelines domain against a real 3-master Redis Cluster, with a real post-service (SQLite)
//! as the source that rebuilds follower indexes and author lists. Events are built by hand from
//! the ids post-service returns; no relay and no fanout server are involved.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout_service::timelines::{PostServiceSource, TimelineConfig, TimelineError, Timelines};
use feedline_proto::fanout::v1::fanout_event::Kind;
use feedline_proto::fanout::v1::{AddFollow, DeliverPost, FanoutEvent, RemoveFollow, RetractPost};
use feedline_proto::post::v1::Post;
use feedline_proto::prost::Message as _;
use feedline_service_kit::{CancellationToken, Env};
use feedline_test_harness::{
    Backend, RedisCluster, Social, TestDatabase, ephemeral_listener, wait_for_serving,
};
use fred::prelude::{
    Builder, Client, ClientLike as _, Config, KeysInterface as _, SetsInterface as _,
    SortedSetsInterface as _,
};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A sorted set as ZRANGE WITHSCORES returns it.
type Scored = Vec<(String, f64)>;

/// A Redis Cluster, a post-service on SQLite and a connected fred client, for one test.
struct Stack {
    /// Dropping it kills the nodes; `ping_fails_when_the_cluster_is_down` stops it early.
    cluster: RedisCluster,
    redis: Client,
    channel: Channel,
    social: Social,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    /// Dropped after the server that uses it.
    _database: TestDatabase,
}

impl std::ops::Deref for Stack {
    type Target = Social;

    /// post-service's clients: `stack.user(..)`, `stack.post(..)`, ...
    fn deref(&self) -> &Social {
        &self.social
    }
}

impl Stack {
    async fn start() -> Stack {
        let (cluster, database) = tokio::join!(RedisCluster::start(3, 0), async {
            TestDatabase::create(Backend::Sqlite).await
        });
        let cluster = cluster.expect("redis cluster");
        let database = database
            .expect("database")
            .expect("sqlite is always enabled");
        let listener = ephemeral_listener().await.expect("listener");
        let addr = listener.local_addr().expect("addr");
        let env: Env = [
            ("FEEDLINE_DATABASE_URL", database.url().to_owned()),
            ("FEEDLINE_LISTEN_ADDR", addr.to_string()),
            ("FEEDLINE_SHUTDOWN_GRACE_MS", "5000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = post_service::Config::from_env(&env).expect("post-service config");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(post_service::run(config, listener, shutdown.clone()));
        wait_for_serving(addr, "", Duration::from_secs(60))
            .await
            .expect("post-service serving");
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connect to post-service");

        let config = Config::from_url(&cluster.url()).expect("cluster url");
        let redis = Builder::from_config(config).build().expect("fred client");
        redis.init().await.expect("cluster connected");
        Stack {
            cluster,
            redis,
            social: Social::new(channel.clone()),
            channel,
            shutdown,
            server,
            _database: database,
        }
    }

    /// Timelines over this stack's cluster, rebuilding from its post-service.
    fn timelines(&self, config: TimelineConfig) -> Timelines {
        let source = Arc::new(PostServiceSource::new(
            self.channel.clone(),
            &Default::default(),
        ));
        Timelines::new(self.redis.clone(), source, config)
    }

    async fn zrange(&self, key: &str) -> Scored {
        let range = self.redis.zrange(key, 0, -1, None, false, None, true);
        range.await.unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), self.server).await;
        // Bounded: after a test killed the cluster, QUIT has nobody to answer it.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.redis.quit()).await;
    }
}

fn event(kind: Kind) -> FanoutEvent {
    FanoutEvent {
        event_id: 1,
        kind: Some(kind),
        ..FanoutEvent::default()
    }
}

fn deliver(post: &Post) -> FanoutEvent {
    event(Kind::DeliverPost(DeliverPost {
        post: Some(post.clone()),
    }))
}

fn member(post_id: i64) -> String {
    format!("{post_id:019}")
}

fn millis(post: &Post) -> f64 {
    feedline_proto::timestamp_to_millis(post.create_time.as_ref().unwrap()).unwrap() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_lands_once_per_follower_and_a_replay_changes_nothing() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    timelines.ping().await.expect("every master answers");
    let author = stack.user("author").await;
    let mut followers = Vec::new();
    for handle in ["fan1", "fan2", "fan3"] {
        let follower = stack.user(handle).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    let post = stack.post(author, "hello").await;

    let applied = timelines.apply(&deliver(&post)).await.unwrap();
    assert_eq!(applied.recipients, 3);
    let mut keys: Vec<String> = followers.iter().map(|f| format!("tl:{{{f}}}")).collect();
    keys.push(format!("ap:{{{author}}}"));
    let mut before = Vec::new();
    for key in &keys {
        before.push(stack.zrange(key).await);
    }
    for (follower, timeline) in followers.iter().zip(&before) {
        assert_eq!(timeline, &vec![(member(post.post_id), millis(&post))]);
        assert_eq!(
            timelines.timeline(*follower, 10).await.unwrap(),
            vec![post.post_id]
        );
    }
    let own = before.last().unwrap();
    assert_eq!(own[0], ("0".to_owned(), 0.0), "ap: is marked built");
    assert_eq!(own[1], (member(post.post_id), millis(&post)));
    let cached: Vec<u8> = stack
        .redis
        .get(format!("pc:{{{}}}", post.post_id))
        .await
        .unwrap();
    assert_eq!(Post::decode(cached.as_slice()).unwrap(), post);
    let index: HashSet<String> = stack
        .redis
        .smembers(format!("fl:{{{author}}}"))
        .await
        .unwrap();
    let mut want: HashSet<String> = followers.iter().map(ToString::to_string).collect();
    want.insert("0".to_owned());
    assert_eq!(index, want);

    let again = timelines.apply(&deliver(&post)).await.unwrap();
    assert_eq!(again.recipients, 3);
    for (key, earlier) in keys.iter().zip(&before) {
        assert_eq!(&stack.zrange(key).await, earlier, "{key} changed on replay");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_all_500_followers_in_per_node_pipelines() {
    let stack = Stack::start().await;
    let author = stack.user("author").await;
    let mut followers = Vec::new();
    for i in 0..500 {
        let follower = stack.user(&format!("fan{i}")).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    let timelines = stack.timelines(TimelineConfig::default());
    let first = stack.post(author, "to five hundred").await;
    let started = Instant::now();
    let applied = timelines.apply(&deliver(&first)).await.unwrap();
    let cold = started.elapsed();
    let second = stack.post(author, "again").await;
    let started = Instant::now();
    let warm = timelines.apply(&deliver(&second)).await.unwrap();
    let warm_time = started.elapsed();
    eprintln!(
        "deliver to 500: {cold:?} with the index rebuilt from post-service ({applied:?}), \
         {warm_time:?} with it in Redis ({warm:?})"
    );

    for result in [applied, warm] {
        assert_eq!(result.recipients, 500);
        assert!(result.pipelines > 1, "more than one node used: {result:?}");
        assert!(
            result.pipelines <= 3 * result.commands.div_ceil(1000),
            "{result:?}"
        );
    }
    for &follower in &followers {
        let timeline = timelines.timeline(follower, 10).await.unwrap();
        assert_eq!(timeline, vec![second.post_id, first.post_id]);
    }

    // Smaller pipelines: the same writes, split further, and a replay still changes nothing.
    let small = stack.timelines(TimelineConfig {
        max_pipeline: 100,
        ..TimelineConfig::default()
    });
    let replay = small.apply(&deliver(&second)).await.unwrap();
    assert!(replay.pipelines >= 500 / 100, "{replay:?}");
    for &follower in &followers {
        assert_eq!(
            stack
                .redis
                .zcard::<u64, _>(format!("tl:{{{follower}}}"))
                .await
                .unwrap(),
            2
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_celebrity_post_is_recorded_but_not_fanned_out() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        celebrity_threshold: 2,
        ..TimelineConfig::default()
    });
    let author = stack.user("celebrity").await;
    let mut followers = Vec::new();
    for handle in ["fan1", "fan2", "fan3"] {
        let follower = stack.user(handle).await;
        stack.follow(follower, author).await;
        followers.push(follower);
    }
    // Twice: the first rebuilds the index, the second finds it in Redis.
    for body in ["one", "two"] {
        let post = stack.post(author, body).await;
        let applied = timelines.apply(&deliver(&post)).await.unwrap();
        assert_eq!(applied.recipients, 0);
        assert_eq!(applied.pipelines, 0);
        let own = stack.zrange(&format!("ap:{{{author}}}")).await;
        assert!(
            own.contains(&(member(post.post_id), millis(&post))),
            "{own:?}"
        );
    }
    for follower in followers {
        let exists: u64 = stack
            .redis
            .exists(format!("tl:{{{follower}}}"))
            .await
            .unwrap();
        assert_eq!(exists, 0, "no timeline written for {follower}");
    }
    // Listed, so that readers pull the author's posts instead.
    let listed: bool = stack
        .redis
        .sismember("celebrities", author.to_string())
        .await
        .unwrap();
    assert!(listed, "the author is listed as a celebrity");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retract_removes_the_post_everywhere_and_tombstones_the_cache() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let author = stack.user("author").await;
    let (f1, f2) = (stack.user("fan1").await, stack.user("fan2").await);
    stack.follow(f1, author).await;
    stack.follow(f2, author).await;
    let kept = stack.post(author, "kept").await;
    let gone = stack.post(author, "gone").await;
    for post in [&kept, &gone] {
        timelines.apply(&deliver(post)).await.unwrap();
    }
    assert_eq!(
        timelines.timeline(f1, 10).await.unwrap(),
        vec![gone.post_id, kept.post_id]
    );

    stack.delete(&gone).await;
    let retract = event(Kind::RetractPost(RetractPost {
        post_id: gone.post_id,
        author_id: author,
    }));
    let applied = timelines.apply(&retract).await.unwrap();
    assert_eq!(applied.recipients, 2);
    for follower in [f1, f2] {
        assert_eq!(
            timelines.timeline(follower, 10).await.unwrap(),
            vec![kept.post_id]
        );
    }
    let own = stack.zrange(&format!("ap:{{{author}}}")).await;
    assert_eq!(
        own,
        vec![("0".to_owned(), 0.0), (member(kept.post_id), millis(&kept))]
    );
    let cache_key = format!("pc:{{{}}}", gone.post_id);
    let tombstone: String = stack.redis.get(&cache_key).await.unwrap();
    assert_eq!(tombstone, "");
    let ttl: i64 = stack.redis.ttl(&cache_key).await.unwrap();
    assert!(ttl > 0, "the tombstone expires: {ttl}");

    // A late replay of the delivery neither resurrects the cache nor the timeline entries.
    let late = timelines.apply(&deliver(&gone)).await.unwrap();
    assert_eq!(late.recipients, 0);
    let tombstone: String = stack.redis.get(&cache_key).await.unwrap();
    assert_eq!(tombstone, "");
    assert_eq!(
        timelines.timeline(f2, 10).await.unwrap(),
        vec![kept.post_id]
    );
    assert_eq!(stack.zrange(&format!("ap:{{{author}}}")).await, own);
    // And the retraction itself is idempotent.
    timelines.apply(&retract).await.unwrap();
    assert_eq!(
        timelines.timeline(f1, 10).await.unwrap(),
        vec![kept.post_id]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_backfills_the_newest_posts() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        backfill_posts: 2,
        ..TimelineConfig::default()
    });
    let author = stack.user("author").await;
    let mut posts = Vec::new();
    for body in ["one", "two", "three"] {
        posts.push(stack.post(author, body).await.post_id);
    }
    let (early, late) = (stack.user("early").await, stack.user("late").await);
    // The first follow finds no ap: and rebuilds it from post-service; the second reads it.
    for follower in [early, late] {
        stack.follow(follower, author).await;
        let follow = event(Kind::AddFollow(AddFollow {
            follower_id: follower,
            followee_id: author,
        }));
        let applied = timelines.apply(&follow).await.unwrap();
        assert_eq!(applied.recipients, 1);
        assert_eq!(
            timelines.timeline(follower, 10).await.unwrap(),
            vec![posts[2], posts[1]]
        );
        let indexed: bool = stack
            .redis
            .sismember(format!("fl:{{{author}}}"), follower.to_string())
            .await
            .unwrap();
        assert!(indexed, "{follower} is in the follower index");
    }
    let own = stack.zrange(&format!("ap:{{{author}}}")).await;
    assert_eq!(own.len(), 4, "sentinel and all three posts: {own:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_removes_the_followees_posts_and_the_index_entry() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let (alice, bob, reader) = (
        stack.user("alice").await,
        stack.user("bob").await,
        stack.user("reader").await,
    );
    stack.follow(reader, alice).await;
    stack.follow(reader, bob).await;
    let mut posts = Vec::new();
    for (author, body) in [(alice, "a1"), (bob, "b1"), (alice, "a2")] {
        let post = stack.post(author, body).await;
        timelines.apply(&deliver(&post)).await.unwrap();
        posts.push(post.post_id);
    }
    assert_eq!(timelines.timeline(reader, 10).await.unwrap().len(), 3);

    stack.unfollow(reader, alice).await;
    let unfollow = event(Kind::RemoveFollow(RemoveFollow {
        follower_id: reader,
        followee_id: alice,
    }));
    let applied = timelines.apply(&unfollow).await.unwrap();
    assert_eq!(applied.recipients, 1);
    assert_eq!(
        timelines.timeline(reader, 10).await.unwrap(),
        vec![posts[1]]
    );
    let index: HashSet<String> = stack
        .redis
        .smembers(format!("fl:{{{alice}}}"))
        .await
        .unwrap();
    assert_eq!(index, HashSet::from(["0".to_owned()]));
    // Idempotent, and a later post of alice no longer reaches the reader.
    timelines.apply(&unfollow).await.unwrap();
    let after = stack.post(alice, "a3").await;
    assert_eq!(
        timelines.apply(&deliver(&after)).await.unwrap().recipients,
        0
    );
    assert_eq!(
        timelines.timeline(reader, 10).await.unwrap(),
        vec![posts[1]]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimming_keeps_a_timeline_near_its_cap() {
    const CAP: usize = 50;
    const TRIM_EVERY: u64 = 4;
    // The trim decision is a hash of the ids: a run of misses this long has odds of ~1e-6.
    const SLACK: usize = 12 * TRIM_EVERY as usize;
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig {
        timeline_cap: CAP,
        trim_every: TRIM_EVERY,
        ..TimelineConfig::default()
    });
    let author = stack.user("prolific").await;
    let reader = stack.user("reader").await;
    stack.follow(reader, author).await;
    let key = format!("tl:{{{reader}}}");
    // Built, as feed-read-service builds a timeline: the trims must spare the sentinel.
    let () = stack
        .redis
        .zadd(&key, None, None, false, false, (0.0, "0"))
        .await
        .unwrap();
    let mut posts = Vec::new();
    for i in 0..3 * CAP {
        let post = stack.post(author, &format!("post {i}")).await;
        timelines.apply(&deliver(&post)).await.unwrap();
        posts.push(post.post_id);
        let size: usize = stack.redis.zcard(&key).await.unwrap();
        assert!(size <= CAP + SLACK, "{size} entries after {} posts", i + 1);
        if i >= CAP {
            assert!(size >= CAP, "{size} entries after {} posts", i + 1);
        }
    }
    // What was trimmed is the oldest: the newest CAP posts are all there, in order.
    let newest: Vec<i64> = posts.iter().rev().take(CAP).copied().collect();
    assert_eq!(timelines.timeline(reader, CAP).await.unwrap(), newest);
    let sentinel: Option<f64> = stack.redis.zscore(&key, "0").await.unwrap();
    assert_eq!(sentinel, Some(0.0), "the trims spared the sentinel");
    let own: usize = stack.redis.zcard(format!("ap:{{{author}}}")).await.unwrap();
    assert_eq!(
        own,
        CAP + 1,
        "the author's list is capped exactly, plus its sentinel"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_permanent_and_ping_sees_a_dead_cluster() {
    let mut stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let post = Post {
        post_id: 42,
        author_id: 7,
        body: "x".into(),
        create_time: None,
    };
    let malformed = [
        FanoutEvent::default(),
        event(Kind::DeliverPost(DeliverPost { post: None })),
        deliver(&post),
        event(Kind::RetractPost(RetractPost {
            post_id: 0,
            author_id: 7,
        })),
        event(Kind::AddFollow(AddFollow {
            follower_id: -1,
            followee_id: 7,
        })),
    ];
    for event in &malformed {
        let error = timelines.apply(event).await.unwrap_err();
        assert!(
            matches!(error, TimelineError::Malformed(_)),
            "{event:?}: {error}"
        );
        assert!(error.is_permanent());
    }

    timelines.ping().await.expect("cluster up");
    stack.cluster.stop();
    let error = timelines.ping().await.expect_err("cluster down");
    assert!(!error.is_permanent(), "{error}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_many_authors_and_follows_lands_exactly_and_replays_converge() {
    let stack = Stack::start().await;
    let timelines = stack.timelines(TimelineConfig::default());
    let (a, b, c) = (
        stack.user("user_a").await,
        stack.user("user_b").await,
        stack.user("user_c").await,
    );
    let (r1, r2, r3, r4) = (
        stack.user("user_r1").await,
        stack.user("user_r2").await,
        stack.user("user_r3").await,
        stack.user("user_r4").await,
    );
    for (reader, authors) in [(r1, vec![a, b]), (r2, vec![b, c]), (r3, vec![a, b, c])] {
        for author in authors {
            stack.follow(reader, author).await;
        }
    }
    let mut posts = Vec::new();
    for (author, body) in [(a, "a1"), (b, "b1"), (c, "c1"), (a, "a2"), (b, "b2")] {
        posts.push(stack.post(author, body).await);
    }
    let [a1, b1, c1, a2, b2] = [0, 1, 2, 3, 4].map(|i| posts[i].post_id);
    // b2 is deleted and its retraction applied before its delivery: it must land nowhere.
    stack.delete(&posts[4]).await;
    let retract = event(Kind::RetractPost(RetractPost {
        post_id: b2,
        author_id: b,
    }));
    timelines.apply(&retract).await.unwrap();

    let group: Vec<FanoutEvent> = posts.iter().map(deliver).collect();
    let refs: Vec<&FanoutEvent> = group.iter().collect();
    let applied = timelines.apply_deliveries(&refs).await.unwrap();
    assert_eq!(applied.recipients, vec![2, 3, 2, 2, 0]);
    assert_eq!(
        applied.total.recipients, 3,
        "three timelines, one ZADD each"
    );
    let expected = [
        (r1, vec![a2, b1, a1]),
        (r2, vec![c1, b1]),
        (r3, vec![a2, c1, b1, a1]),
        (r4, vec![]),
    ];
    for (reader, want) in &expected {
        assert_eq!(&timelines.timeline(*reader, 10).await.unwrap(), want);
    }
    let tombstone: String = stack.redis.get(format!("pc:{{{b2}}}")).await.unwrap();
    assert_eq!(tombstone, "", "the delivery kept the tombstone");

    // A replayed mixed group (the same posts in another order, plus a new one) converges: every
    // timeline holds exactly what it held plus the new post, with the same scores.
    let mut before = Vec::new();
    for (reader, _) in &expected {
        before.push(stack.zrange(&format!("tl:{{{reader}}}")).await);
    }
    let a3 = stack.post(a, "a3").await;
    let mut replay: Vec<FanoutEvent> = group.iter().rev().cloned().collect();
    replay.push(deliver(&a3));
    let refs: Vec<&FanoutEvent> = replay.iter().collect();
    timelines.apply_deliveries(&refs).await.unwrap();
    for ((reader, _), earlier) in expected.iter().zip(&before) {
        let mut want = earlier.clone();
        if [r1, r3].contains(reader) {
            want.push((member(a3.post_id), millis(&a3)));
        }
        let got = stack.zrange(&format!("tl:{{{reader}}}")).await;
        assert_eq!(got, want, "timeline of {reader} after the replay");
    }

    // Follows of several followees in one group: each backfill lands, in one ZADD per follower.
    let r5 = stack.user("user_r5").await;
    stack.follow(r5, a).await;
    stack.follow(r5, c).await;
    let follows: Vec<FanoutEvent> = [a, c]
        .map(|followee| {
            event(Kind::AddFollow(AddFollow {
                follower_id: r5,
                followee_id: followee,
            }))
        })
        .into();
    let refs: Vec<&FanoutEvent> = follows.iter().collect();
    let applied = timelines.apply_follows(&refs).await.unwrap();
    assert_eq!(applied.recipients, vec![1, 1]);
    assert_eq!(applied.total.recipients, 1);
    assert_eq!(
        timelines.timeline(r5, 10).await.unwrap(),
        vec![a3.post_id, a2, c1, a1]
    );

    // Trims apply to a group's ZADD as to one post's: the newest `cap` stay, and the sentinel.
    let small = stack.timelines(TimelineConfig {
        timeline_cap: 3,
        trim_every: 1,
        ..TimelineConfig::default()
    });
    let key = format!("tl:{{{r3}}}");
    let () = stack
        .redis
        .zadd(&key, None, None, false, false, (0.0, "0"))
        .await
        .unwrap();
    let mut newer = Vec::new();
    for (author, body) in [(a, "a4"), (b, "b4"), (c, "c4"), (a, "a5"), (b, "b5")] {
        newer.push(stack.post(author, body).await);
    }
    let group: Vec<FanoutEvent> = newer.iter().map(deliver).collect();
    let refs: Vec<&FanoutEvent> = group.iter().collect();
    small.apply_deliveries(&refs).await.unwrap();
    let newest: Vec<i64> = newer.iter().rev().take(3).map(|p| p.post_id).collect();
    assert_eq!(small.timeline(r3, 10).await.unwrap(), newest);
    let size: usize = stack.redis.zcard(&key).await.unwrap();
    assert_eq!(size, 4, "the cap and the sentinel");
    stack.stop().await;
}
