//! A throwaway certificate authority for TLS tests: a CA and one server certificate for
//! `localhost` and 127.0.0.1, as PEM files in a temp dir (redis-server reads files).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;

/// A CA made for one test; its files are deleted on drop.
pub struct TestCa {
    dir: TempDir,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl TestCa {
    /// A new CA, and a certificate it signed for `localhost`, 127.0.0.1 and ::1.
    pub fn new() -> Result<TestCa> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "feedline test CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate()?;
        let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
        let mut params = CertificateParams::new(names.to_vec())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer)?;

        let ca = TestCa {
            dir: tempfile::Builder::new().prefix("feedline-ca-").tempdir()?,
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        for (name, pem) in [
            ("ca.pem", &ca.ca_pem),
            ("cert.pem", &ca.cert_pem),
            ("key.pem", &ca.key_pem),
        ] {
            let path = ca.dir.path().join(name);
            std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(ca)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The server certificate's private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// `ca.pem`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `cert.pem`.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// `key.pem`.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// The directory holding the three files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
