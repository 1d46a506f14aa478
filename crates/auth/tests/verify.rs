//! Tokens as identity providers sign them (RS256, ES256, EdDSA), and every way one is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::time::Duration;

use feedline_auth::{AuthConfig, DevKeys, KeySet, TokenError, TokenSpec, Verifier};
use feedline_test_harness::eventually;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "feedline";

/// The fixtures' RSA and EC keys plus a generated Ed25519 key, in one JWKS.
async fn setup() -> (Verifier, DevKeys) {
    let dev = DevKeys::generate(ISSUER, AUDIENCE);
    let mut fixtures: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/jwks.json")).unwrap();
    let ed: serde_json::Value = serde_json::from_str(&dev.jwks_json()).unwrap();
    let keys = fixtures["keys"].as_array_mut().unwrap();
    keys.extend(ed["keys"].as_array().unwrap().iter().cloned());
    let config = AuthConfig {
        keys: KeySet::from_json(&fixtures.to_string()).unwrap().into(),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        leeway: Duration::from_secs(5),
        admin_scope: "feedline:admin".into(),
        service_scope: "feedline:service".into(),
    };
    (
        Verifier::start(config, Default::default()).await.unwrap(),
        dev,
    )
}

fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).unwrap()
}

fn claims(sub: &str, scope: &str) -> serde_json::Value {
    let now = get_current_timestamp();
    serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": now + 600, "nbf": now, "scope": scope})
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa.pem")).unwrap()
}

fn ec() -> EncodingKey {
    EncodingKey::from_ec_pem(include_bytes!("fixtures/ec.pem")).unwrap()
}

#[tokio::test]
async fn accepts_rs256_es256_and_eddsa_tokens_with_their_scopes() {
    let (verifier, dev) = setup().await;
    let rs = signed(
        Algorithm::RS256,
        "test-rsa",
        &rsa(),
        &claims("alice", "openid profile"),
    );
    let caller = verifier.verify(&rs).unwrap();
    assert_eq!(caller.subject, "alice");
    assert!(!caller.admin && !caller.service && caller.authenticated);

    let es = signed(
        Algorithm::ES256,
        "test-ec",
        &ec(),
        &claims("bob", "feedline:admin"),
    );
    let caller = verifier.verify(&es).unwrap();
    assert!(caller.admin && !caller.service);

    let caller = verifier.verify(&dev.service_token("post-service")).unwrap();
    assert!(caller.service && !caller.admin);

    // `scp` as a list (Azure AD, Okta) counts too.
    let mut list = claims("carol", "");
    list["scp"] = serde_json::json!(["read", "feedline:admin"]);
    let caller = verifier
        .verify(&signed(Algorithm::RS256, "test-rsa", &rsa(), &list))
        .unwrap();
    assert!(caller.admin);
}

#[tokio::test]
async fn refuses_expired_early_foreign_and_forged_tokens_saying_why() {
    let (verifier, dev) = setup().await;
    let spec = |f: &dyn Fn(&mut TokenSpec)| {
        let mut s = TokenSpec::new("alice", "");
        f(&mut s);
        dev.token(&s)
    };
    let cases = [
        (
            spec(&|s| s.expired_for = Some(Duration::from_secs(60))),
            TokenError::Expired,
        ),
        (
            spec(&|s| s.not_before_in = Some(Duration::from_secs(600))),
            TokenError::NotYetValid,
        ),
        (
            spec(&|s| s.issuer = Some("https://evil.example".into())),
            TokenError::Issuer,
        ),
        (
            spec(&|s| s.audience = Some("someone-else".into())),
            TokenError::Audience,
        ),
        ("not.a.jwt".to_owned(), TokenError::Malformed),
    ];
    for (token, expected) in cases {
        let error = verifier.verify(&token).unwrap_err();
        assert_eq!(error, expected);
        assert!(!error.to_string().contains(&token), "never echo the token");
    }

    // A valid token with one character of its signature changed.
    let good = dev.user_token("alice");
    let mut forged = good.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(verifier.verify(&forged), Err(TokenError::Signature));

    // Signed by a key the JWKS does not hold, under a kid it does hold.
    let stranger = DevKeys::generate(ISSUER, AUDIENCE);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("nope".into());
    let unknown = encode(&header, &claims("alice", ""), &rsa()).unwrap();
    assert!(matches!(
        verifier.verify(&unknown),
        Err(TokenError::UnknownKey(_))
    ));
    assert!(matches!(
        verifier.verify(&stranger.user_token("alice")),
        Err(TokenError::UnknownKey(_))
    ));

    // HS256 (a shared secret) is not accepted, whatever the secret.
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", ""),
        &EncodingKey::from_secret(b"secret").unwrap(),
    )
    .unwrap();
    assert!(matches!(
        verifier.verify(&hs),
        Err(TokenError::Algorithm(_))
    ));

    // No `sub`.
    let mut nosub = claims("", "");
    nosub.as_object_mut().unwrap().remove("sub");
    let token = signed(Algorithm::RS256, "test-rsa", &rsa(), &nosub);
    assert_eq!(
        verifier.verify(&token),
        Err(TokenError::MissingClaim("sub".into()))
    );
}

#[tokio::test]
async fn the_authorization_metadata_must_be_a_bearer_token() {
    let (verifier, dev) = setup().await;
    assert_eq!(verifier.authenticate(None), Err(TokenError::Missing));
    let basic = http::HeaderValue::from_static("Basic YWxpY2U6cHc=");
    assert_eq!(
        verifier.authenticate(Some(&basic)),
        Err(TokenError::NotBearer)
    );
    let bearer = http::HeaderValue::from_str(&format!("bearer {}", dev.user_token("a"))).unwrap();
    assert_eq!(verifier.authenticate(Some(&bearer)).unwrap().subject, "a");
}

#[tokio::test]
async fn a_cached_token_still_expires() {
    let (verifier, dev) = setup().await;
    // Valid for 1 s past the 5 s leeway: verified (and cached) now, refused once it lapses.
    let mut spec = TokenSpec::new("alice", "");
    spec.lifetime = Duration::from_secs(1);
    let token = dev.token(&spec);
    assert!(verifier.verify(&token).is_ok());
    assert!(verifier.verify(&token).is_ok(), "from the cache");
    // Expiry is judged in whole seconds: wait until exp + leeway has passed.
    eventually("the token expired", Duration::from_secs(10), || async {
        match verifier.verify(&token) {
            Err(TokenError::Expired) => Ok(()),
            Ok(_) => anyhow::bail!("still valid"),
            other => panic!("{other:?} instead of expired"),
        }
    })
    .await
    .unwrap();
}
