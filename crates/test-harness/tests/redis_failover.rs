//! Failing a real 3+3 cluster over: SIGKILL a master, its replica's promotion, the old node back
//! as a replica; and what a replicated write looks like on the other side of it.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use feedline_test_harness::{RedisCluster, redis_server_available};

fn redis_cli(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-c", "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `script` (commands, one per line) on one connection to `addr`.
fn redis_cli_script(addr: SocketAddr, script: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("redis-cli")
        .args(["-p", &addr.port().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "redis-cli {script:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn role(addr: SocketAddr) -> String {
    redis_cli(addr, &["role"])
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_killed_master_fails_over_and_rejoins_as_a_replica() {
    if !redis_server_available() {
        eprintln!("skipping: redis-server is not on PATH");
        return;
    }
    let mut cluster = RedisCluster::start(3, 1).await.unwrap();
    let before = cluster.master_addrs();
    let victim = before[0];
    // A key on the victim's slots, replicated before the crash (WAIT 1: one replica has it).
    let key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| {
            // `-c` follows MOVED: the key lands on its slot's master, the victim or not.
            assert_eq!(redis_cli(victim, &["set", k, "v"]), "OK");
            let slot = redis_cli(victim, &["cluster", "keyslot", k]);
            redis_cli(victim, &["cluster", "countkeysinslot", &slot]) == "1"
        })
        .unwrap();
    // WAIT counts what its own connection wrote: the SET again and the WAIT go on one
    // connection (one redis-cli reading both from stdin); a WAIT alone would answer at once.
    assert_eq!(
        redis_cli_script(victim, &format!("set {key} v\nwait 1 2000\n")),
        "OK\n1"
    );

    let killed = cluster.kill_master(0).unwrap();
    assert_eq!(killed, victim);
    assert!(cluster.kill_master(7).is_err(), "no master #7");
    let killed_at = Instant::now();
    let promoted = cluster
        .wait_for_failover(killed, Duration::from_secs(30))
        .await
        .unwrap();
    let took = killed_at.elapsed();
    eprintln!("kill to promotion seen by every node: {took:?}");

    let after = cluster.master_addrs();
    assert!(!before.contains(&promoted), "{promoted} was a replica");
    assert!(cluster.all_addrs().contains(&promoted));
    assert!(!after.contains(&killed) && after.contains(&promoted));
    assert_eq!(after.len(), 3);
    assert!(after.windows(2).all(|w| w[0] < w[1]), "sorted: {after:?}");
    assert_eq!(role(promoted), "master");
    assert_eq!(
        redis_cli(after[0], &["get", &key]),
        "v",
        "the replicated write"
    );
    // A 2 s node timeout: detected, voted and promoted well within 10 s.
    assert!(took < Duration::from_secs(10), "failover took {took:?}");

    assert!(cluster.restart_node(promoted).await.is_err(), "it runs");
    cluster.restart_node(killed).await.unwrap();
    assert_eq!(role(killed), "slave");
    assert_eq!(
        cluster.master_addrs(),
        after,
        "a rejoined node takes no slots"
    );
    assert!(redis_cli(killed, &["cluster", "info"]).contains("cluster_state:ok"));
    assert_eq!(redis_cli(killed, &["get", &key]), "v", "followed by -c");
}
