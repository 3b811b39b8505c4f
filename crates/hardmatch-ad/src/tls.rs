//! The rustls client configuration for LDAPS and StartTLS.
//!
//! Verification is always on unless the admin explicitly turns it off: the system's roots
//! plus any `--ca-cert` files. Internal AD CAs are rarely in the system store, so a trust
//! failure names `--ca-cert` in its hint rather than suggesting to skip verification.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::error::AdError;
use crate::settings::TlsOptions;

/// Builds the verifying client configuration. `None` means "let ldap3 build its
/// non-verifying one" (`insecure_skip_verify`).
pub(crate) fn client_config(options: &TlsOptions) -> Result<Option<Arc<ClientConfig>>, AdError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    if options.insecure_skip_verify {
        // ldap3 builds its own configuration with the process-wide provider; make sure one
        // exists. An error only means another part of the program installed one first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipping an unreadable system certificate store entry");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "loaded system root certificates");
    for path in &options.ca_certificates {
        for certificate in read_pem_certificates(path)? {
            roots
                .add(certificate)
                .map_err(|error| AdError::CaCertificate {
                    path: path.clone(),
                    detail: error.to_string(),
                })?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| AdError::Tls {
            url: String::new(),
            detail: error.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, AdError> {
    let bytes = std::fs::read(path).map_err(|source| AdError::Io {
        path: path.to_owned(),
        source,
    })?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| AdError::CaCertificate {
            path: path.to_owned(),
            detail: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(AdError::CaCertificate {
            path: path.to_owned(),
            detail: "no PEM certificate in it".to_owned(),
        });
    }
    Ok(certificates)
}
