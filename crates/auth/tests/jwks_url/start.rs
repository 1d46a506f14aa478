//! At start: a served key verifies, an oversized or unfetchable JWKS fails the start, HTTPS with a private CA.

use super::*;

#[tokio::test]
async fn tokens_signed_by_the_served_key_verify() {
    let (a, other) = (key(), key());
    let idp = Idp::start(Reply::Document(a.jwks_json())).await;
    let verifier = start(source(&idp.url)).await.unwrap();
    assert_eq!(idp.hits(), 1);
    assert_eq!(verifier.key_count(), 1);
    assert_eq!(
        verifier.verify(&a.user_token("alice")).unwrap().subject,
        "alice"
    );
    assert!(matches!(
        verifier.verify(&other.user_token("mallory")),
        Err(TokenError::UnknownKey(_))
    ));
    let verifier = Arc::new(verifier);
    assert_eq!(
        call(&verifier, &a.admin_token("root")).await,
        Ok("root".into())
    );
}

#[tokio::test]
async fn an_oversized_document_is_refused_at_start() {
    let a = key();
    // A real JWKS, padded past the limit: its size alone refuses it.
    let mut padded: serde_json::Value = serde_json::from_str(&a.jwks_json()).unwrap();
    padded["padding"] = serde_json::Value::String("x".repeat(1024 * 1024));
    let idp = Idp::start(Reply::Document(padded.to_string())).await;
    let error = fetch_error(start(source(&idp.url)).await.unwrap_err());
    assert!(matches!(error, FetchError::TooLarge { .. }), "{error}");

    // The same document within the limit is taken.
    idp.answer(Reply::Document(a.jwks_json()));
    assert!(start(source(&idp.url)).await.is_ok());
}

#[tokio::test]
async fn the_start_fails_when_the_jwks_cannot_be_fetched() {
    let idp = Idp::start(Reply::Status(500)).await;
    let started = Instant::now();
    let error = start(source(&idp.url)).await.unwrap_err();
    let KeyError::Fetch { attempts, .. } = &error else {
        panic!("{error}");
    };
    assert!(*attempts >= 3, "retried with backoff: {error}");
    assert_eq!(idp.hits(), *attempts as usize);
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    assert!(
        error.to_string().contains(&idp.url) && error.to_string().contains("HTTP 500"),
        "{error}"
    );

    // Shutting down during the start ends it at once.
    let url = idp.url.clone();
    idp.stop().await;
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let mut patient = source(&url);
    patient.startup = Duration::from_secs(600);
    let error = fetch_error(
        Verifier::start(config(patient), shutdown)
            .await
            .unwrap_err(),
    );
    assert!(matches!(error, FetchError::Stopped), "{error}");
}

#[tokio::test]
async fn an_https_jwks_signed_by_a_private_ca_is_trusted_with_that_ca_only() {
    let a = key();
    let ca = TestCa::new().unwrap();
    let idp = Idp::start_tls(Reply::Document(a.jwks_json()), &ca).await;
    // Without the CA: the web's roots do not know it, and the start fails on the certificate.
    let error = fetch_error(start(source(&idp.url)).await.unwrap_err());
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    assert_eq!(
        idp.hits(),
        0,
        "no request was sent over an untrusted connection"
    );
    // With it (what `FEEDLINE_TLS_CA` gives the verifier): the keys are fetched over https.
    let mut trusting = source(&idp.url);
    trusting.extra_roots = CertificateDer::pem_slice_iter(ca.ca_pem().as_bytes())
        .map(|c| c.unwrap().to_vec())
        .collect();
    let verifier = start(trusting).await.unwrap();
    assert_eq!(idp.hits(), 1);
    assert_eq!(
        verifier.verify(&a.user_token("alice")).unwrap().subject,
        "alice"
    );
}
