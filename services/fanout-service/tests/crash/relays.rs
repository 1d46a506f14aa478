//! Three post-service replicas relaying one outbox lose their leader midway.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_postgres_lose_their_leader_and_keep_per_author_order() {
    three_relays_lose_their_leader(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_mysql_lose_their_leader_and_keep_per_author_order() {
    three_relays_lose_their_leader(Backend::Mysql).await;
}

/// Followers who unfollow every author two thirds through the writes.
const UNFOLLOWERS: usize = 5;

/// Three post-service replicas on one database, writes spread over all of them; the relay
/// leader (replica 0, started first) is SIGKILLed a third through and the unfollows come two
/// thirds through. Only one replica relays at a time, every committed post is in every
/// remaining follower's timeline exactly once, and no unfollower keeps a post: an unfollow
/// overtaken by an older post of its author (two relays sending one author's events at once)
/// would leave that post behind.
async fn three_relays_lose_their_leader(backend: Backend) {
    let Some(crash) = Crash::new(backend).await else {
        return;
    };
    let mut leader = Some(crash.start_replica(0, 1).await);
    eventually("replica 0 leads", Duration::from_secs(10), || async {
        anyhow::ensure!(crash.leaderships(1).0[0] == 1);
        Ok(())
    })
    .await
    .unwrap();
    let _standbys = [
        crash.start_replica(1, 1).await,
        crash.start_replica(2, 1).await,
    ];
    // fanout-service reads from a replica that stays up.
    let _fanout = crash.start_fanout_reading(1, 1).await;
    let (authors, fans) = crash.graph_of(3).await;
    let social = feedline_test_harness::Social::new(crash.channel_to(2));
    crash
        .write_posts_of(&authors, REPLICAS, 2, async |fault| {
            if fault == 1 {
                let (took, lost) = crash.leaderships(1);
                assert_eq!(took, [1, 0, 0], "only the first replica relayed so far");
                assert!(!lost, "no leader lost its lease");
                leader.take().unwrap().kill().await.unwrap();
            } else {
                for &fan in &fans[..UNFOLLOWERS] {
                    for &author in &authors {
                        social.unfollow(fan, author).await;
                    }
                }
            }
        })
        .await;
    crash.wait_outbox_drained().await;
    let (took, lost) = crash.leaderships(1);
    assert_eq!(took[0], 1);
    assert_eq!(
        took[1] + took[2],
        1,
        "exactly one standby took over, after the SIGKILL: {took:?}"
    );
    assert!(
        !lost,
        "no leader lost its lease; logs in {}",
        crash.logs.path().display()
    );
    crash
        .assert_every_post_of(&authors, &fans[UNFOLLOWERS..], 1)
        .await;
    let committed = crash.committed(&authors).await;
    let timelines = crash.timelines(1).await;
    for fan in &fans[..UNFOLLOWERS] {
        let kept: Vec<i64> = timelines
            .timeline(*fan, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|post| committed.contains(post))
            .collect();
        assert!(
            kept.is_empty(),
            "unfollower {fan} kept {} posts of authors it unfollowed; logs in {}",
            kept.len(),
            crash.logs.path().display()
        );
    }
}
