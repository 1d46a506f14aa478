//! TLS on the gRPC server and on the calls between services (rustls through tonic): the
//! certificate, its key and the extra trust anchors, read and checked before any port is bound.

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::config::{ConfigError, Env};

/// `FEEDLINE_TLS_CERT`, `FEEDLINE_TLS_KEY`, `FEEDLINE_TLS_CA` and `FEEDLINE_TLS_SERVER_NAME`.
/// Each PEM setting is a file path, or the PEM text itself (a secret injected into the
/// environment, as ECS does).
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// The server's certificate chain and private key: with them the server speaks only TLS.
    identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Trust anchors added to the public web roots for what this service calls: the other
    /// services (`https://` URLs) and Redis (`rediss-cluster://`).
    ca: Option<Vec<u8>>,
    /// The name the `healthcheck` subcommand expects in the server's own certificate.
    server_name: String,
}

/// The name `healthcheck` verifies when `FEEDLINE_TLS_SERVER_NAME` is unset.
pub const DEFAULT_SERVER_NAME: &str = "localhost";

impl TlsConfig {
    /// Reads the TLS settings; a certificate without its key (or the reverse), an unreadable
    /// file or PEM that holds no certificate or key fails here, naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cert = pem_setting(env, "FEEDLINE_TLS_CERT")?;
        let key = pem_setting(env, "FEEDLINE_TLS_KEY")?;
        let ca = pem_setting(env, "FEEDLINE_TLS_CA")?;
        let identity = match (cert, key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                certificates("FEEDLINE_TLS_CERT", &cert)?;
                PrivateKeyDer::from_pem_slice(&key).map_err(|e| ConfigError {
                    variable: "FEEDLINE_TLS_KEY".into(),
                    value: "<private key>".into(),
                    reason: format!("no PEM private key: {e}"),
                })?;
                Some((cert, key))
            }
            (cert, _) => {
                let (set, unset) = if cert.is_some() {
                    ("FEEDLINE_TLS_CERT", "FEEDLINE_TLS_KEY")
                } else {
                    ("FEEDLINE_TLS_KEY", "FEEDLINE_TLS_CERT")
                };
                return Err(ConfigError {
                    variable: unset.into(),
                    value: String::new(),
                    reason: format!("{set} is set: TLS needs both the certificate and its key"),
                });
            }
        };
        if let Some(ca) = &ca {
            certificates("FEEDLINE_TLS_CA", ca)?;
        }
        let server_name = env
            .get("FEEDLINE_TLS_SERVER_NAME")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER_NAME.to_owned());
        Ok(Self {
            identity,
            ca,
            server_name,
        })
    }

    /// Whether the server speaks TLS.
    pub fn serves_tls(&self) -> bool {
        self.identity.is_some()
    }

    /// The server side, when a certificate is configured.
    pub fn server(&self) -> Option<ServerTlsConfig> {
        let (cert, key) = self.identity.as_ref()?;
        Some(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
    }

    /// The client side: the public web roots plus `FEEDLINE_TLS_CA`.
    pub fn client(&self) -> ClientTlsConfig {
        let tls = ClientTlsConfig::new().with_webpki_roots();
        match &self.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls,
        }
    }

    /// The extra trust anchors (`FEEDLINE_TLS_CA`), DER-encoded, for clients that build their
    /// own rustls configuration (Redis).
    pub fn extra_roots(&self) -> Vec<CertificateDer<'static>> {
        self.ca
            .as_deref()
            .map(|pem| {
                CertificateDer::pem_slice_iter(pem)
                    .filter_map(Result::ok)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The name the `healthcheck` subcommand expects in the server's certificate.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// A test's or a tool's configuration: trust `ca_pem`, serve `identity` (cert, key) if given.
    pub fn from_pem(identity: Option<(Vec<u8>, Vec<u8>)>, ca_pem: Option<Vec<u8>>) -> Self {
        Self {
            identity,
            ca: ca_pem,
            server_name: DEFAULT_SERVER_NAME.to_owned(),
        }
    }

    /// `endpoint` with TLS when its URL is `https://`, as it is otherwise.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint.tls_config(self.client())
        } else {
            Ok(endpoint)
        }
    }
}

/// A PEM setting: unset or empty is `None`; a value starting with `-----BEGIN` is the PEM
/// itself; anything else is a file to read.
fn pem_setting(env: &Env, name: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(value) = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.starts_with("-----BEGIN") {
        return Ok(Some(value.as_bytes().to_vec()));
    }
    std::fs::read(value).map(Some).map_err(|e| ConfigError {
        variable: name.into(),
        value: value.into(),
        reason: format!("cannot read the file: {e}"),
    })
}

/// Fails unless `pem` holds at least one certificate.
fn certificates(name: &str, pem: &[u8]) -> Result<(), ConfigError> {
    let count = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError {
            variable: name.into(),
            value: "<PEM>".into(),
            reason: format!("not PEM certificates: {e}"),
        })?
        .len();
    if count == 0 {
        return Err(ConfigError {
            variable: name.into(),
            value: "<PEM>".into(),
            reason: "holds no certificate".into(),
        });
    }
    Ok(())
}
