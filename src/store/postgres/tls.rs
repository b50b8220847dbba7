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

fn setup(what: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |e| StoreError::PostgresSetup(format!("{what}: {e}"))
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
            roots.add(cert).map_err(|e| setup("database.ca_file")(e.to_string()))?;
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
        .map_err(|e| setup("TLS versions")(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let shown = path.display().to_string();
    CertificateDer::pem_file_iter(path)
        .map_err(|e| setup("database.ca_file")(format!("{shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup("database.ca_file")(format!("{shown}: {e}")))
}
