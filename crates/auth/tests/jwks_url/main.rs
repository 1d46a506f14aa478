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

mod refresh;
mod start;
