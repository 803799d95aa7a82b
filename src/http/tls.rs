//! Built-in HTTPS: the certificate and key files given with `--tls-cert` and
//! `--tls-key`, read at start and again on SIGHUP. A renewed certificate is
//! swapped in for the next handshake; connections already open keep the one
//! they began with, so nothing is dropped. A file that does not load on
//! SIGHUP leaves the previous certificate in service.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The protocols offered in ALPN, preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The one crypto provider of the TLS server (and of `harmonia health`).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate in service, and where it comes from.
#[derive(Debug)]
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Loads the files; an error says which file is wrong and how.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<Arc<Certificates>> {
        let provider = provider();
        let current = read(cert_file, key_file, &provider)?;
        Ok(Arc::new(Certificates {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            provider,
            current: RwLock::new(current),
        }))
    }

    /// Reads the files again and puts the new certificate in service; on an
    /// error the one in service stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = read(&self.cert_file, &self.key_file, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The certificate file, for log lines.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The server side of TLS: TLS 1.2 and 1.3, HTTP/2 preferred over
    /// HTTP/1.1, the certificate asked of `self` at every handshake.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The chain (end-entity first, as certbot's fullchain.pem has it) and the
/// private key (PKCS#8, PKCS#1 or SEC1 PEM), checked to belong together.
fn read(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(e, cert_file, "certificate"))?;
    if chain.is_empty() {
        anyhow::bail!(
            "the certificate file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| pem_error(e, key_file, "key"))?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
            "the key file {} does not belong to the certificate in {}",
            key_file.display(),
            cert_file.display()
        ),
        other => anyhow::anyhow!(
            "the key file {} or the certificate in {} cannot be used: {other}",
            key_file.display(),
            cert_file.display()
        ),
    })?;
    Ok(Arc::new(certified))
}

/// Says what is wrong with a file without quoting it: a key file's lines
/// are secret.
fn pem_error(e: rustls::pki_types::pem::Error, file: &Path, what: &str) -> anyhow::Error {
    use rustls::pki_types::pem::Error;
    let why = match e {
        Error::Io(io) => {
            return anyhow::anyhow!("cannot read the {what} file {}: {io}", file.display());
        }
        Error::NoItemsFound => "holds no PEM {what}",
        Error::MissingSectionEnd { .. } => "has a PEM section without its END line",
        Error::IllegalSectionStart { .. } => "has a malformed PEM BEGIN line",
        Error::Base64Decode(_) => "has a PEM section that is not valid base64",
        Error::SectionTooLarge => "has a PEM section that is too large",
        _ => "is not valid PEM",
    };
    anyhow::anyhow!(
        "the {what} file {} {}",
        file.display(),
        why.replace("{what}", what)
    )
}
