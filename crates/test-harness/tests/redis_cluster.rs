//! Real `redis-server` clusters: startup, routing via `redis-cli -c`, fresh restarts, teardown.

// allow-unwrap-in-tests skips helpers outside #[test] fns; a panic there fails the test too.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;

use feedline_test_harness::{RedisCluster, redis_server_available};

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-c", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// start_in's errors for a port another process holds: seen free by its probe or not.
fn taken(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    text.contains("is in use") || text.contains("exited")
}

fn skip() -> bool {
    let skip = !redis_server_available();
    if skip {
        eprintln!("skipping: redis-server is not on PATH");
    }
    skip
}

#[tokio::test]
async fn three_masters_serve_every_slot_and_close_their_ports_on_drop() {
    if skip() {
        return;
    }
    let cluster = RedisCluster::start(3, 0).await.unwrap();
    let addrs = cluster.all_addrs();
    assert_eq!(addrs.len(), 3);
    assert_eq!(cluster.master_addrs().len(), 3);
    let [a, b, c] = [0, 1, 2].map(|i| addrs[i].to_string());
    assert_eq!(
        cluster.url(),
        format!("redis-cluster://{a}?node={b}&node={c}")
    );

    let port = addrs[0].port();
    assert!(redis_cli(port, &["cluster", "info"]).contains("cluster_state:ok"));
    // These keys hash to slots on all three masters, so `-c` has to follow MOVED redirects.
    for key in ["a", "b", "c", "feedline"] {
        assert_eq!(redis_cli(port, &["set", key, "v"]), "OK");
        assert_eq!(redis_cli(addrs[2].port(), &["get", key]), "v");
    }

    drop(cluster);
    for addr in addrs {
        assert!(
            TcpStream::connect(addr).is_err(),
            "{addr} still accepts connections"
        );
    }
}

#[tokio::test]
async fn masters_with_replicas() {
    if skip() {
        return;
    }
    let mut cluster = RedisCluster::start(3, 1).await.unwrap();
    let masters = cluster.master_addrs();
    let all = cluster.all_addrs();
    assert_eq!((masters.len(), all.len()), (3, 6));
    for addr in &all {
        let role = redis_cli(addr.port(), &["role"]);
        let want = if masters.contains(addr) {
            "master"
        } else {
            "slave"
        };
        assert_eq!(role.lines().next(), Some(want), "{addr}");
    }
    cluster.stop();
    assert!(TcpStream::connect(all[0]).is_err());
}

#[tokio::test]
async fn start_in_wipes_an_earlier_cluster() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Node ports 16000..20000 (bus 26000..30000) are outside every port `start` binds (node
    // ports 10000..15000, bus 20000..25000), so the tests beside this one cannot take them. A
    // second run of this binary (two `cargo test`s, or nextest's process per test) can: it may
    // take a block between our probe and start_in's bind, so the block is random and a block
    // lost that way is given up for another, as `start` does with its ports.
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    let mut lost = 0;
    let (first, cluster) = loop {
        let first = rand::random_range(16_000..19_990);
        if !(first..first + 3).all(|q| free(q) && free(q + 10_000)) {
            continue;
        }
        match RedisCluster::start_in(dir.path(), first, 3, 0).await {
            Ok(cluster) => break (first, cluster),
            Err(error) if lost < 5 && taken(&error) => lost += 1,
            Err(error) => panic!("start_in on {first}: {error:#}"),
        }
    };
    let ports: Vec<u16> = cluster.all_addrs().iter().map(|a| a.port()).collect();
    assert_eq!(ports, [first, first + 1, first + 2]);
    drop(cluster);
    assert!(dir.path().join(format!("node-{first}/nodes.conf")).exists());

    // With the old nodes.conf still there, `--cluster create` would refuse the non-empty nodes.
    let cluster = RedisCluster::start_in(dir.path(), first, 3, 0)
        .await
        .unwrap();
    assert!(redis_cli(first, &["cluster", "info"]).contains("cluster_known_nodes:3"));
    drop(cluster);
}
