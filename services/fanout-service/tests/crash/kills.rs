//! SIGKILLs of fanout-service (three times) and of post-service between commit and send.

use super::*;

/// How long a restarted service may take to answer SERVING after a SIGKILL (a debug build on a
/// busy 2-core machine).
const SERVING_AGAIN_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_service_killed_three_times_mid_stream_loses_nothing() {
    let crash = Crash::new(Backend::Sqlite).await.unwrap();
    let mut fanout = Some(crash.start_fanout(1).await);
    let _post = crash.start_post(1).await;
    let (author, fans) = crash.graph().await;
    crash
        .write_posts(author, 3, async |kill| {
            fanout.take().unwrap().kill().await.unwrap();
            let killed = Instant::now();
            fanout = Some(crash.start_fanout(kill + 1).await);
            let serving = killed.elapsed();
            eprintln!("kill {kill}: fanout-service serving again {serving:?} after the SIGKILL");
            assert!(serving < SERVING_AGAIN_WITHIN, "kill {kill}: {serving:?}");
        })
        .await;
    crash.assert_every_post_everywhere(author, &fans).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_killed_between_commit_and_send_loses_nothing() {
    post_service_killed_between_commit_and_send(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_killed_between_commit_and_send_loses_nothing_on_postgres() {
    post_service_killed_between_commit_and_send(Backend::Postgres).await;
}

async fn post_service_killed_between_commit_and_send(backend: Backend) {
    let Some(crash) = Crash::new(backend).await else {
        return;
    };
    let _fanout = crash.start_fanout(1).await;
    let mut post = Some(crash.start_post(1).await);
    let (author, fans) = crash.graph().await;
    crash
        .write_posts(author, 1, async |_| {
            post.take().unwrap().kill().await.unwrap();
            post = Some(crash.start_post(2).await);
        })
        .await;
    crash.assert_every_post_everywhere(author, &fans).await;
}
