//! GetFeed while a Redis master is SIGKILLed and its replica promoted, on a 3+3 cluster: every
//! call answers OK or UNAVAILABLE with RetryInfo (never INTERNAL, never a hang into a
//! deadline), health stays SERVING, and reads are steadily OK again within seconds of the
//! promotion.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_service_kit::CancellationToken;
use feedline_stack::Stack;
use feedline_test_harness::{eventually, retry_delay};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Readers: their timelines hash to slots on every master.
const READERS: usize = 24;
/// Concurrent callers, each cycling through every reader.
const CALLERS: usize = 4;
/// After the promotion, how long every call must have been OK to call reads recovered.
const STEADY: Duration = Duration::from_secs(2);
/// "A few seconds": the promotion to the start of steady OK.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

/// One GetFeed answer: when it came back, its code, whether an UNAVAILABLE carried RetryInfo.
#[derive(Clone, Copy, Debug)]
struct Call {
    at: Instant,
    took: Duration,
    code: Code,
    retry_info: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_feed_through_a_failover_is_ok_or_unavailable_and_recovers_in_seconds() {
    let mut stack = Stack::builder()
        .feed()
        .redis_replicas(1)
        .start()
        .await
        .unwrap();
    let feed = stack.feed.as_ref().unwrap();
    let channel = feed.channel().await.unwrap();
    let health_addr = feed.addr;
    let author = stack.user("author").await;
    let mut readers = Vec::new();
    for i in 0..READERS {
        let reader = stack.user(&format!("reader{i}")).await;
        stack.follow(reader, author).await;
        readers.push(reader);
    }
    let post = stack.post(author, "before the failover").await;
    let client = FeedServiceClient::new(channel);
    for &reader in &readers {
        eventually("post fanned out", Duration::from_secs(20), || {
            let mut client = client.clone();
            async move {
                let page = client
                    .get_feed(GetFeedRequest {
                        user_id: reader,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                let ids: Vec<i64> = page
                    .items
                    .iter()
                    .filter_map(|i| i.post.as_ref())
                    .map(|p| p.post_id)
                    .collect();
                anyhow::ensure!(ids == [post.post_id], "{reader} sees {ids:?}");
                Ok(())
            }
        })
        .await
        .unwrap();
    }

    let stop = CancellationToken::new();
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let (stop, calls, readers) = (stop.clone(), calls.clone(), readers.clone());
        let mut client = client.clone();
        callers.push(tokio::spawn(async move {
            let mut i = caller;
            while !stop.is_cancelled() {
                let user_id = readers[i % readers.len()];
                i += 1;
                let start = Instant::now();
                let answer = client
                    .get_feed(GetFeedRequest {
                        user_id,
                        ..Default::default()
                    })
                    .await;
                let call = match answer {
                    Ok(_) => Call {
                        at: Instant::now(),
                        took: start.elapsed(),
                        code: Code::Ok,
                        retry_info: false,
                    },
                    Err(status) => Call {
                        at: Instant::now(),
                        took: start.elapsed(),
                        code: status.code(),
                        retry_info: retry_delay(&status).is_some(),
                    },
                };
                calls.lock().unwrap().push(call);
                if call.code != Code::Ok {
                    // A client honouring RetryInfo would wait longer; 50 ms keeps samples dense.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Health, sampled every 100 ms: (when, serving).
    let health: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let prober = {
        let (stop, health) = (stop.clone(), health.clone());
        tokio::spawn(async move {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{health_addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = HealthClient::new(channel);
            while !stop.is_cancelled() {
                let status = client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().status);
                let serving = status.is_ok_and(|s| s == ServingStatus::Serving as i32);
                health.lock().unwrap().push((Instant::now(), serving));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // A second of normal reads, then the crash.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = stack.cluster.kill_master(0).unwrap();
    let killed_at = Instant::now();
    stack
        .cluster
        .wait_for_failover(killed, Duration::from_secs(30))
        .await
        .unwrap();
    let promoted_at = Instant::now();
    // Read on until every call has been OK for STEADY (or give up well past the bound).
    let give_up = promoted_at + RECOVERY_BOUND + STEADY + Duration::from_secs(10);
    let recovered_at = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        let calls = calls.lock().unwrap();
        let last_failure = calls
            .iter()
            .filter(|c| c.code != Code::Ok)
            .map(|c| c.at)
            .max()
            .unwrap_or(killed_at)
            .max(promoted_at);
        if now.duration_since(last_failure) >= STEADY || now >= give_up {
            break last_failure;
        }
    };
    stop.cancel();
    for caller in callers {
        caller.await.unwrap();
    }
    prober.await.unwrap();

    let calls = calls.lock().unwrap().clone();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for call in &calls {
        *codes.entry(format!("{:?}", call.code)).or_default() += 1;
    }
    let during = |c: &&Call| c.at >= killed_at;
    let failed: Vec<&Call> = calls
        .iter()
        .filter(during)
        .filter(|c| c.code != Code::Ok)
        .collect();
    let slowest = calls.iter().filter(during).map(|c| c.took).max().unwrap();
    // fred holds every command while it reconnects around the dead master, not only those of
    // its slots: how many reads of any slot were served in that window.
    let ok_meanwhile = calls
        .iter()
        .filter(|c| c.at > killed_at && c.at < promoted_at && c.code == Code::Ok)
        .count();
    let not_serving = health.lock().unwrap().iter().filter(|(_, s)| !s).count();
    let recovery = recovered_at.duration_since(promoted_at);
    let last_failure = failed.iter().map(|c| c.at).max().unwrap_or(killed_at);
    eprintln!(
        "kill to promotion {:?}; kill to last non-OK {:?}; promotion to steady OK {recovery:?}; calls {codes:?}; \
         non-OK after the kill {}; OK between kill and promotion {ok_meanwhile}; slowest call after the kill {slowest:?}; \
         health samples NOT_SERVING {not_serving} of {}",
        promoted_at.duration_since(killed_at),
        last_failure.duration_since(killed_at),
        failed.len(),
        health.lock().unwrap().len(),
    );
    assert!(
        calls
            .iter()
            .all(|c| matches!(c.code, Code::Ok | Code::Unavailable)),
        "codes seen: {codes:?}"
    );
    assert!(
        failed.iter().all(|c| c.retry_info),
        "every UNAVAILABLE carries RetryInfo"
    );
    // The kill was felt: the killed master's readers could not be served until the promotion.
    assert!(!failed.is_empty(), "no call failed: was a master killed?");
    assert!(
        recovery <= RECOVERY_BOUND,
        "reads steadily OK only {recovery:?} after the promotion"
    );
    assert_eq!(
        not_serving, 0,
        "health flapped to NOT_SERVING for one slot range"
    );
    stack.stop().await.unwrap();
}

/// The health probe both services use: a dead master is reported (so it is logged) but is not
/// a failure; only a cluster no master of which can be reached is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_fails_only_when_no_master_can_be_reached() {
    let mut cluster = feedline_test_harness::RedisCluster::start(3, 1)
        .await
        .unwrap();
    let redis = feedline_redis::connect(&cluster.url(), &Default::default())
        .await
        .unwrap();
    let reach = feedline_redis::probe_masters(&redis).await.unwrap();
    assert_eq!(
        reach,
        feedline_redis::Reach {
            silent: Vec::new(),
            reachable: true
        }
    );

    let killed = cluster.kill_master(0).unwrap();
    let silent = eventually(
        "the dead master reported",
        Duration::from_secs(10),
        || async {
            let reach = feedline_redis::probe_masters(&redis).await?;
            anyhow::ensure!(
                reach.reachable,
                "unreachable with two masters up: {reach:?}"
            );
            anyhow::ensure!(reach.silent.contains(&killed.to_string()), "{reach:?}");
            Ok(reach.silent)
        },
    )
    .await
    .unwrap();
    feedline_redis::ping_masters(&redis).await.unwrap();
    cluster
        .wait_for_failover(killed, Duration::from_secs(30))
        .await
        .unwrap();
    eventually(
        "every master answers again",
        Duration::from_secs(10),
        || async {
            let reach = feedline_redis::probe_masters(&redis).await?;
            anyhow::ensure!(reach.silent.is_empty(), "{reach:?}");
            Ok(())
        },
    )
    .await
    .unwrap();
    eprintln!("silent while failing over: {silent:?}");

    cluster.stop();
    eventually(
        "the stopped cluster fails the probe",
        Duration::from_secs(10),
        || async {
            match feedline_redis::ping_masters(&redis).await {
                Ok(()) => anyhow::bail!("still reachable"),
                Err(_) => Ok(()),
            }
        },
    )
    .await
    .unwrap();
}
