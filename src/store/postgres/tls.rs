//! TLS to the `PostgreSQL` server, over rustls with the aws-lc-rs provider the service already
//! links.
//!
//! `sslmode=disable`: plain TCP. `sslmode=require`: TLS, and (stricter than libpq's `require`,
//! like its `verify-full`) the server's certificate must chain to a trusted root and name the
//! host in the URL. Trusted roots are the system's (`rustls-native-certs`: the distribution's
//! CA bundle, which is where managed `PostgreSQL` services' CAs are found) plus every
//! certificate in `database.ca_file` (a private CA, or a provider's CA bundle).

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How connections to the server are made.
#[derive(Clone)]
pub enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

impl Tls {
    /// What `config`'s sslmode asks for; reads the system roots and `ca_file` (off the async
    /// executor) only when TLS is used.
    pub async fn for_config(config: &tokio_postgres::Config, ca_file: Option<&Path>) -> Result<Self, StoreError> {
        if config.get_ssl_mode() == SslMode::Disable {
            return Ok(Self::Plain);
        }
        let ca_file = ca_file.map(Path::to_path_buf);
        let client = tokio::task::spawn_blocking(move || client_config(ca_file.as_deref()))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        Ok(Self::Rustls(MakeRustlsConnect::new(client)))
    }
}

fn setup(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::PostgresSetup(format!("{what}: {e}"))
}

fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "reading a system CA certificate failed");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs = read_pem(path)?;
        if certs.is_empty() {
            return Err(StoreError::PostgresSetup(format!(
                "database.ca_file {}: no PEM certificate in it",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| setup("database.ca_file", e))?;
        }
    } else if added == 0 {
        return Err(StoreError::PostgresSetup(
            "sslmode=require: no system CA certificates found (install ca-certificates or set database.ca_file)"
                .to_owned(),
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup("TLS versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let what = format!("database.ca_file {}", path.display());
    CertificateDer::pem_file_iter(path)
        .map_err(|e| setup(&what, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup(&what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tls_for(ca_file: &Path) -> Result<Tls, StoreError> {
        let config: tokio_postgres::Config = "postgres://u@db.example/db?sslmode=require".parse().unwrap();
        Tls::for_config(&config, Some(ca_file)).await
    }

    #[tokio::test]
    async fn a_missing_or_empty_ca_file_stops_start_up_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let Err(e) = tls_for(&missing).await else {
            panic!("a missing file is refused")
        };
        assert!(e.to_string().contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let Err(e) = tls_for(&empty).await else {
            panic!("a file without certificates is refused")
        };
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[tokio::test]
    async fn sslmode_disable_needs_no_certificates() {
        let config: tokio_postgres::Config = "postgres://u@db.example/db?sslmode=disable".parse().unwrap();
        let tls = Tls::for_config(&config, Some(Path::new("/nonexistent"))).await.unwrap();
        assert!(matches!(tls, Tls::Plain));
    }
}
