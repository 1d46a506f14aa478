//! Refreshes: a rotated key fetched at most once per interval, a failed refresh keeps the last keys, periodic refresh until shutdown.

use super::*;

#[tokio::test]
async fn a_rotated_key_is_fetched_on_its_first_token_at_most_once_per_interval() {
    let (a, b, c) = (key(), key(), key());
    let idp = Idp::start(Reply::Document(a.jwks_json())).await;
    let verifier = Arc::new(start(source(&idp.url)).await.unwrap());
    let old = a.user_token("alice");
    assert_eq!(
        call(&verifier, &old).await,
        Ok("alice".into()),
        "cached now"
    );

    // The provider rotates: only B is published, and B's first token is let in.
    idp.answer(Reply::Document(b.jwks_json()));
    assert_eq!(
        call(&verifier, &b.user_token("bob")).await,
        Ok("bob".into())
    );
    assert_eq!(idp.hits(), 2, "one fetch for the unknown kid");

    // A was removed: its cached verdict does not outlive the key.
    let (code, message) = call(&verifier, &old).await.unwrap_err();
    assert_eq!(code, UNAUTHENTICATED);
    assert!(message.contains("not in the trusted JWKS"), "{message}");

    // Another rotation within the interval (30 s): unknown kids cause no fetch.
    idp.answer(Reply::Document(c.jwks_json()));
    for _ in 0..5 {
        let (code, _) = call(&verifier, &c.user_token("carol")).await.unwrap_err();
        assert_eq!(code, UNAUTHENTICATED);
    }
    assert_eq!(idp.hits(), 2, "rate-limited: the provider is not hammered");
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_keys() {
    let a = key();
    let idp = Idp::start(Reply::Document(a.jwks_json())).await;
    let verifier = start(source(&idp.url)).await.unwrap();
    let token = a.user_token("alice");

    idp.answer(Reply::Status(503));
    assert!(matches!(
        verifier.refresh_keys().await,
        Err(FetchError::Status(503))
    ));
    assert!(verifier.verify(&token).is_ok());

    idp.answer(Reply::Document(r#"{"keys":[]}"#.into()));
    assert!(matches!(
        verifier.refresh_keys().await,
        Err(FetchError::Document(_))
    ));
    assert!(verifier.verify(&token).is_ok());

    idp.answer(Reply::Unsized("x".repeat(2 * 1024 * 1024)));
    assert!(matches!(
        verifier.refresh_keys().await,
        Err(FetchError::TooLarge { limit: 1_048_576 })
    ));
    assert!(verifier.verify(&token).is_ok());

    idp.stop().await;
    assert!(matches!(
        verifier.refresh_keys().await,
        Err(FetchError::Request(_))
    ));
    assert!(verifier.verify(&token).is_ok());
    assert_eq!(verifier.key_count(), 1);
}

#[tokio::test]
async fn the_keys_are_refreshed_periodically_until_shutdown() {
    let (a, b) = (key(), key());
    let idp = Idp::start(Reply::Document(a.jwks_json())).await;
    let mut fast = source(&idp.url);
    fast.refresh = Duration::from_millis(50);
    let shutdown = CancellationToken::new();
    let verifier = Verifier::start(config(fast), shutdown.clone())
        .await
        .unwrap();

    // `verify` alone never fetches: only the periodic refresh can bring B in.
    idp.answer(Reply::Document(b.jwks_json()));
    let token = b.user_token("bob");
    feedline_test_harness::eventually("the refresh fetches B", Duration::from_secs(10), || {
        std::future::ready(verifier.verify(&token).map_err(anyhow::Error::from))
    })
    .await
    .unwrap();
    assert!(
        verifier.verify(&a.user_token("alice")).is_err(),
        "A is gone"
    );

    shutdown.cancel();
    let hits = idp.hits();
    // A window of ten refresh intervals: a task still running would fetch in it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        idp.hits() <= hits + 1,
        "the refresh task stopped on shutdown"
    );
}
