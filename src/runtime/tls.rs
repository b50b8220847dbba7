//! The API's TLS listener: rustls with the certificate chain and key named in the config.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// A rustls server config from PEM files; every failure names the file and what is wrong.
pub fn server_config(tls: &TlsConfig) -> Result<rustls::ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_path)
        .and_then(Iterator::collect)
        .map_err(|e| format!("server.tls.cert_path {}: {e}", tls.cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "server.tls.cert_path {}: no certificate in the file",
            tls.cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_path)
        .map_err(|e| format!("server.tls.key_path {}: {e}", tls.key_path.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))?;
    // actix puts its own protocols before these; `h2` only with actix-web's `http2` feature,
    // which Cargo.toml leaves out.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
