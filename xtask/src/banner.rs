//! The block `cargo xtask up` prints once everything is serving: what runs where, and what to try.

use std::path::Path;

use crate::lint::BUF;
use crate::services::{SERVICES, Stack};

/// Prints what is running and ready-to-paste grpcurl and buf curl examples.
pub fn print(stack: &Stack, logs_dir: &Path) {
    println!();
    println!("feedline is up (Ctrl-C to stop)");
    println!();
    for service in SERVICES {
        if service.started {
            println!(
                "  {:<20} {}  health: \"\", {}",
                service.name,
                service.addr(),
                service.health.join(", ")
            );
        } else {
            println!(
                "  {:<20} {}  not started (not implemented yet)",
                service.name,
                service.addr()
            );
        }
    }
    println!("  {:<20} {}", "redis cluster", stack.redis_url);
    println!("  {:<20} {}", "state folder", stack.state_dir.display());
    println!(
        "  {:<20} {}/<service>.log  (e.g. tail -f {}/post-service.log)",
        "logs",
        logs_dir.display(),
        logs_dir.display()
    );
    println!();

    let addr = SERVICES
        .iter()
        .find(|s| s.name == "post-service")
        .map_or_else(|| "127.0.0.1:50051".to_owned(), |s| s.addr().to_string());
    let grpcurl = |body: &str, method: &str| match body {
        "" => format!("  grpcurl -plaintext {addr} {method}"),
        body => format!("  grpcurl -plaintext -d '{body}' {addr} {method}"),
    };
    println!(
        "try it with grpcurl (it asks the server's reflection service: no proto files needed):"
    );
    println!("{}", grpcurl("", "list"));
    println!(
        "{}",
        grpcurl(r#"{"service":""}"#, "grpc.health.v1.Health/Check")
    );
    for (handle, name) in [("alice", "Alice"), ("bob", "Bob")] {
        let body = format!(r#"{{"handle":"{handle}","display_name":"{name}"}}"#);
        println!(
            "{}",
            grpcurl(&body, "feedline.graph.v1.GraphService/CreateUser")
        );
    }
    println!("  # put the userId of each answer in place of <ALICE_ID> and <BOB_ID>");
    println!(
        "{}",
        grpcurl(
            r#"{"follower_id":"<BOB_ID>","followee_id":"<ALICE_ID>"}"#,
            "feedline.graph.v1.GraphService/Follow"
        )
    );
    println!(
        "  # run it twice: the same idempotency key answers the same post id (created: false)"
    );
    println!(
        "{}",
        grpcurl(
            r#"{"author_id":"<ALICE_ID>","body":"hello","idempotency_key":"k1"}"#,
            "feedline.post.v1.PostService/CreatePost"
        )
    );
    println!(
        "{}",
        grpcurl(
            r#"{"user_id":"<ALICE_ID>"}"#,
            "feedline.graph.v1.GraphService/ListFollowers"
        )
    );
    println!(
        "  # the post reached bob's home timeline (fan-out on write; GetFeed comes with feed-read-service):"
    );
    println!("  redis-cli -c -p 30001 ZREVRANGE 'tl:{{<BOB_ID>}}' 0 -1 WITHSCORES");
    println!();
    println!(
        "grpcurl is not packaged for Debian (get a release binary, or \
         `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest`);"
    );
    println!("buf curl works too and also uses reflection by default:");
    println!(
        "  npx --yes {BUF} curl --protocol grpc --http2-prior-knowledge \
         -d '{{\"handle\":\"carol\",\"display_name\":\"Carol\"}}' \
         http://{addr}/feedline.graph.v1.GraphService/CreateUser"
    );
    println!();
}
