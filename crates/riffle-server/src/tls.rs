//! The TLS listener's configuration: a certificate and key from PEM files,
//! or a self-signed pair for local use, offered with ALPN h2 and http/1.1.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no certificate in {0}")]
    NoCertificate(String),
    #[error("no private key in {0}")]
    NoKey(String),
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] tokio_rustls::rustls::Error),
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// An acceptor for the given PEM certificate chain and private key.
///
/// # Errors
/// The PEM holds no certificate or key, or rustls refuses them.
pub fn acceptor(cert_pem: &[u8], key_pem: &[u8], source: &str) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(source.to_owned()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey(source.to_owned()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // HTTP/2 first: the Java and JavaScript SDKs use it for SubscribeToShard.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reads a certificate and key from PEM files.
///
/// # Errors
/// A file cannot be read, or see [`acceptor`].
pub fn from_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    acceptor(&read(cert)?, &read(key)?, &cert.display().to_string())
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, kept in `dir`
/// (`tls-self-signed.pem`, `tls-self-signed.key`) so clients that trusted it
/// keep working across restarts. Returns the acceptor and the certificate PEM.
///
/// # Errors
/// The files cannot be written or read, or generation failed.
pub fn self_signed(dir: &Path) -> Result<(TlsAcceptor, String), TlsError> {
    let cert_path = dir.join("tls-self-signed.pem");
    let key_path = dir.join("tls-self-signed.key");
    if !cert_path.exists() || !key_path.exists() {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names)?;
        let write = |path: &Path, pem: String| {
            std::fs::write(path, pem).map_err(|source| TlsError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        write(&key_path, certified.signing_key.serialize_pem())?;
        write(&cert_path, certified.cert.pem())?;
    }
    let cert_pem = std::fs::read_to_string(&cert_path).map_err(|source| TlsError::Io {
        path: cert_path.display().to_string(),
        source,
    })?;
    Ok((from_files(&cert_path, &key_path)?, cert_pem))
}
