//! A JWKS published at a URL, as Cognito, Auth0 and Keycloak publish theirs
//! (`.../.well-known/jwks.json`): how it is fetched, and one fetch, bounded in time and size.

use std::time::Duration;

use crate::keys::{KeyError, KeySet};

/// How often the keys are fetched again, unless configured otherwise.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The least time between two fetches caused by tokens that name an unknown key.
pub const DEFAULT_UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);
/// Most time one fetch may take, from connecting to the last byte.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document accepted; real ones are a few KiB.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
/// How long the first fetch is retried at start before the start fails.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(15);

/// Where a JWKS is published and how it is kept fresh. [`JwksUrl::parse`] sets the defaults;
/// only `refresh` is a setting (`FEEDLINE_AUTH_JWKS_REFRESH_S`), the rest are public for tests.
#[derive(Clone, Debug)]
pub struct JwksUrl {
    /// `https://`, or `http://` for an identity provider on the same host.
    pub url: reqwest::Url,
    /// The keys are fetched again this long after the last fetch.
    pub refresh: Duration,
    /// A token whose `kid` is unknown triggers a fetch at most once per this, so forged
    /// tokens cannot make the service hammer the identity provider.
    pub unknown_kid_interval: Duration,
    /// Most time one fetch may take, from connecting to the last byte.
    pub timeout: Duration,
    /// A larger document is refused.
    pub max_bytes: usize,
    /// The first fetch is retried, with backoff, for at most this long; then the start fails.
    pub startup: Duration,
    /// Certificates (DER) trusted besides the web's roots: a private CA's, from
    /// `FEEDLINE_TLS_CA`, for an identity provider inside the deployment.
    pub extra_roots: Vec<Vec<u8>>,
}

impl JwksUrl {
    /// An `http(s)://` URL with a host, and the default timings and limits.
    pub fn parse(url: &str) -> Result<Self, KeyError> {
        let refuse = |reason: &str| KeyError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(refuse("the scheme must be https (or http)"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(refuse("no host"));
        }
        Ok(Self {
            url: parsed,
            refresh: DEFAULT_REFRESH,
            unknown_kid_interval: DEFAULT_UNKNOWN_KID_INTERVAL,
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            startup: DEFAULT_STARTUP,
            extra_roots: Vec::new(),
        })
    }

    /// Plain `http://` to another host: anyone on the path could swap the keys.
    pub(crate) fn is_insecure(&self) -> bool {
        let host = self.url.host_str().unwrap_or_default();
        let local = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        self.url.scheme() == "http" && !local
    }

    /// The HTTP client for this source: its timeout, no cookies, TLS with the web's roots and
    /// [`JwksUrl::extra_roots`].
    pub(crate) fn client(&self) -> Result<reqwest::Client, FetchError> {
        let mut builder = reqwest::Client::builder();
        for der in &self.extra_roots {
            let certificate =
                reqwest::Certificate::from_der(der).map_err(|e| FetchError::Request(chain(&e)))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("feedline-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Request(chain(&e)))
    }
}

/// Why one fetch of the JWKS gave no key set.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer: connection refused, TLS, timeout.
    #[error("{0}")]
    Request(String),
    /// An answer other than 2xx.
    #[error("the server answered HTTP {0}")]
    Status(u16),
    /// The document exceeds the size limit.
    #[error("the document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The document is not a JWKS with a usable key.
    #[error("{0}")]
    Document(String),
    /// The service began shutting down before a fetch succeeded.
    #[error("the service is shutting down")]
    Stopped,
}

/// One fetch: the document as sent and its keys. The body is read chunk by chunk and
/// abandoned as soon as it passes `source.max_bytes`, whatever `Content-Length` claims.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    source: &JwksUrl,
) -> Result<(Vec<u8>, KeySet), FetchError> {
    let request = |e: reqwest::Error| FetchError::Request(chain(&e));
    let mut response = client
        .get(source.url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(request)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let too_large = FetchError::TooLarge {
        limit: source.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > source.max_bytes as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request)? {
        if body.len() + chunk.len() > source.max_bytes {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| FetchError::Document("the document is not UTF-8".into()))?;
    let keys = KeySet::from_json(text).map_err(|e| FetchError::Document(e.to_string()))?;
    Ok((body, keys))
}

/// An error with its causes: reqwest's own message names only the step that failed.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls_only() {
        let cognito =
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/.well-known/jwks.json";
        let source = JwksUrl::parse(cognito).unwrap();
        assert_eq!(source.url.as_str(), cognito);
        assert_eq!(source.refresh, DEFAULT_REFRESH);
        assert!(!source.is_insecure());
        assert!(
            !JwksUrl::parse("http://127.0.0.1:8080/jwks")
                .unwrap()
                .is_insecure()
        );
        assert!(
            !JwksUrl::parse("http://localhost/jwks")
                .unwrap()
                .is_insecure()
        );
        assert!(
            JwksUrl::parse("http://idp.internal/jwks")
                .unwrap()
                .is_insecure()
        );
        for bad in ["ftp://idp/jwks", "https://", "not a url"] {
            assert!(
                matches!(JwksUrl::parse(bad), Err(KeyError::Url { .. })),
                "{bad}"
            );
        }
    }
}
