//! TLS end to end: every service serves TLS only, the services call each other on `https://`
//! and a Redis Cluster that serves TLS only on `rediss-cluster://`, all trusting a throwaway
//! CA. A post travels client → post-service → relay → fanout-service → Redis → feed-read-service
//! (hydrated from post-service) → client, every hop encrypted; plaintext and foreign-CA clients
//! are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::Duration;

use anyhow::ensure;
use feedline_proto::feed::v1::GetFeedRequest;
use feedline_proto::feed::v1::feed_service_client::FeedServiceClient;
use feedline_service_kit::TlsConfig;
use feedline_stack::{Service, Stack};
use feedline_test_harness::{OwnedPostgres, TestCa, eventually};
use sea_orm::ConnectionTrait as _;
use tonic::transport::Channel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_a_follower_over_tls_on_every_hop() {
    let stack = Stack::builder().feed().logs().tls().start().await.unwrap();
    assert!(stack.cluster.url().starts_with("rediss-cluster://"));
    let feed = stack.feed.as_ref().unwrap();
    assert!(feed.url().starts_with("https://"));

    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    stack.follow(bob, alice).await;
    let post = stack.post(alice, "sent over TLS").await;

    let reader = FeedServiceClient::new(feed.channel().await.unwrap());
    let request = || GetFeedRequest {
        user_id: bob,
        page_size: Some(10),
        page_token: String::new(),
    };
    let items = eventually("the post in bob's feed", Duration::from_secs(20), || {
        let mut reader = reader.clone();
        async move {
            let page = reader.get_feed(request()).await?.into_inner();
            ensure!(!page.items.is_empty(), "feed still empty");
            Ok(page.items)
        }
    })
    .await
    .unwrap();
    let got = items[0].post.as_ref().unwrap();
    assert_eq!(
        (got.post_id, got.body.as_str()),
        (post.post_id, "sent over TLS")
    );

    // The same server in plaintext: the TLS listener does not speak cleartext HTTP/2.
    let plain = Channel::from_shared(format!("http://{}", feed.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect_lazy();
    let refused = FeedServiceClient::new(plain).get_feed(request()).await;
    assert!(
        refused.is_err(),
        "a plaintext call was answered: {refused:?}"
    );
    // A client that trusts another CA refuses the server's certificate (both CAs bear the same
    // name, so rustls finds the foreign one and its signature does not verify).
    let other = TestCa::new().unwrap();
    let foreign = TlsConfig::from_pem(None, Some(other.ca_pem().into()));
    let endpoint = foreign
        .apply(Channel::from_shared(feed.url()).unwrap())
        .unwrap()
        .connect_timeout(Duration::from_secs(3));
    let error = endpoint.connect().await.unwrap_err();
    let chain = format!("{:?}", anyhow::Error::from(error));
    assert!(chain.contains("invalid peer certificate"), "{chain}");
    // Redis: a plaintext client gets no answer from a TLS-only node.
    let plain_redis = stack
        .cluster
        .url()
        .replacen("rediss-cluster://", "redis-cluster://", 1);
    let plaintext = TlsConfig::default();
    let connect = feedline_redis::connect(&plain_redis, &plaintext);
    let plain_result = tokio::time::timeout(Duration::from_secs(15), connect).await;
    assert!(
        !matches!(plain_result, Ok(Ok(_))),
        "a plaintext Redis client connected to the TLS cluster"
    );

    stack.stop().await.unwrap();
}

/// post-service reaches PostgreSQL over TLS and verifies its certificate (`sslmode=verify-full`
/// with the CA in `sslrootcert`), as a deployment on RDS does; a foreign CA is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_service_verifies_the_postgresql_certificate() {
    let ca = TestCa::new().unwrap();
    let Some(pg) = OwnedPostgres::start_tls(&ca).await.unwrap() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: no PostgreSQL server binaries to own an instance"
        );
        eprintln!("skipped: no PostgreSQL server binaries to own an instance");
        return;
    };
    let verified = |ca_file: &std::path::Path| {
        format!(
            "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
            pg.port(),
            ca_file.display()
        )
    };

    // A foreign CA: the connection fails on the certificate, before any query.
    let other = TestCa::new().unwrap();
    let error = sea_orm::Database::connect(verified(&other.ca_file()))
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("InvalidCertificate"),
        "not a certificate error: {error:?}"
    );

    let url = verified(&ca.ca_file());
    let stack = Stack::builder()
        .env(Service::Post, &[("FEEDLINE_DATABASE_URL", &url)])
        .start()
        .await
        .unwrap();
    let alice = stack.user("alice").await;
    stack.post(alice, "stored over TLS").await;
    // Every connection of post-service's pool is encrypted: pg_stat_ssl says so per backend.
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FROM pg_stat_ssl s \
             JOIN pg_stat_activity a USING (pid) WHERE a.datname = 'postgres' \
             AND a.backend_type = 'client backend'",
        ))
        .await
        .unwrap()
        .unwrap();
    let (plain, all): (i64, i64) = (
        row.try_get_by_index(0).unwrap(),
        row.try_get_by_index(1).unwrap(),
    );
    assert_eq!(plain, 0, "{plain} of {all} connections are not encrypted");
    assert!(all >= 2, "post-service's connections and ours: {all}");
    stack.stop().await.unwrap();
}
