//! Keys fetched from a JWKS URL, over real HTTP on loopback: a tiny identity provider serves
//! the document, rotates it, fails, goes down or sends too much, and the verifier (through
//! the real [`AuthLayer`] where the unknown-kid refetch happens) must keep up.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is a failed test

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use feedline_auth::{
    AuthConfig, AuthLayer, Caller, DevKeys, FetchError, JwksUrl, KeyError, KeySource, TokenError,
    Verifier,
};
use feedline_test_harness::TestCa;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::{Layer as _, Service as _, ServiceExt as _};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "feedline";
/// A method any valid token may call.
const PATH: &str = "/feedline.post.v1.PostService/GetPost";

/// What the identity provider answers.
#[derive(Clone)]
enum Reply {
    /// 200 with this document and its `Content-Length`.
    Document(String),
    /// 200 with this body and no length: it ends when the connection closes.
    Unsized(String),
    /// This status, no body.
    Status(u16),
}

/// A one-route HTTP/1.1 server on an ephemeral port; every answer closes its connection, so
/// each fetch is a new connection and a stopped server refuses the next one.
struct Idp {
    url: String,
    reply: Arc<Mutex<Reply>>,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Idp {
    async fn start(reply: Reply) -> Self {
        Self::start_with(reply, None).await
    }

    /// Serves https on `localhost` with `ca`'s server certificate.
    async fn start_tls(reply: Reply, ca: &TestCa) -> Self {
        let key = PrivateKeyDer::from_pem_slice(ca.key_pem().as_bytes()).unwrap();
        let chain = CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Self::start_with(reply, Some(TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(reply: Reply, tls: Option<TlsAcceptor>) -> Self {
        let listener = feedline_test_harness::ephemeral_listener().await.unwrap();
        let url = match tls {
            None => format!(
                "http://{}/.well-known/jwks.json",
                listener.local_addr().unwrap()
            ),
            Some(_) => format!(
                "https://localhost:{}/.well-known/jwks.json",
                listener.local_addr().unwrap().port()
            ),
        };
        let reply = Arc::new(Mutex::new(reply));
        let hits = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, tls, reply.clone(), hits.clone()));
        Self {
            url,
            reply,
            hits,
            task,
        }
    }

    fn answer(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Closes the listener: the next fetch is refused.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    reply: Arc<Mutex<Reply>>,
    hits: Arc<AtomicUsize>,
) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        match &tls {
            None => answer(socket, &reply, &hits).await,
            // A client that refuses the certificate ends the handshake: nothing to answer.
            Some(tls) => {
                if let Ok(socket) = tls.accept(socket).await {
                    answer(socket, &reply, &hits).await;
                }
            }
        }
    }
}

/// Reads one request head from `socket` and writes the current reply.
async fn answer<S>(mut socket: S, reply: &Mutex<Reply>, hits: &AtomicUsize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let reply = reply.lock().unwrap().clone();
    let response = match reply {
        Reply::Document(body) => format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::Unsized(body) => format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}"
        ),
        Reply::Status(code) => {
            format!("HTTP/1.1 {code} Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        }
    };
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

fn key() -> DevKeys {
    DevKeys::generate(ISSUER, AUDIENCE)
}

/// The source at `idp`, with a start bound short enough for failing starts to be quick.
fn source(idp_url: &str) -> JwksUrl {
    let mut source = JwksUrl::parse(idp_url).unwrap();
    source.startup = Duration::from_millis(1500);
    source
}

fn config(source: JwksUrl) -> AuthConfig {
    AuthConfig {
        keys: KeySource::Url(source),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        leeway: Duration::from_secs(5),
        admin_scope: feedline_auth::DEFAULT_ADMIN_SCOPE.into(),
        service_scope: feedline_auth::DEFAULT_SERVICE_SCOPE.into(),
    }
}

/// A verifier of `source` that the test never shuts down.
async fn start(source: JwksUrl) -> Result<Verifier, KeyError> {
    Verifier::start(config(source), CancellationToken::new()).await
}

/// Why a start failed to fetch the keys.
fn fetch_error(error: KeyError) -> FetchError {
    match error {
        KeyError::Fetch { source, .. } => source,
        other => panic!("not a fetch error: {other}"),
    }
}

/// One call through the real [`AuthLayer`]: the subject the handler saw, or the gRPC code
/// and message of the refusal.
async fn call(verifier: &Arc<Verifier>, token: &str) -> Result<String, (String, String)> {
    let handler = tower::service_fn(|request: http::Request<()>| async move {
        let subject = Caller::of(request.extensions())
            .map(|c| c.subject.clone())
            .unwrap_or_default();
        Ok::<_, Infallible>(http::Response::new(subject))
    });
    let mut service = AuthLayer::new(Some(verifier.clone())).layer(handler);
    let request = http::Request::builder()
        .uri(PATH)
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    match response.headers().get("grpc-status") {
        None => Ok(response.into_body()),
        Some(code) => Err((
            code.to_str().unwrap().to_owned(),
            response
                .headers()
                .get("grpc-message")
                // Percent-encoded on the wire; spaces are all these messages need.
                .map(|m| m.to_str().unwrap().replace("%20", " "))
                .unwrap_or_default(),
        )),
    }
}

const UNAUTHENTICATED: &str = "16";

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
