//! HTTPS for the emulator. Microsoft's clients (MSAL, azure-identity) refuse plain-http
//! authorities, so `--tls` makes a private CA and a leaf certificate for localhost,
//! 127.0.0.1 and ::1 at start (the CA's PEM is exposed for the client's trust store), or
//! serves a given certificate and key. rustls runs on the ring provider, the one the
//! workspace's LDAP TLS uses, so only one provider is compiled in.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::EmulatorError;

/// How the emulator serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// HTTPS with a CA and certificate generated at start.
    SelfSigned,
    /// HTTPS with this certificate chain and private key (PEM files).
    Files { cert: PathBuf, key: PathBuf },
}

pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA that signed the served certificate, when the emulator made it.
    pub(crate) ca_certificate_pem: Option<String>,
}

fn tls_error(context: &str, error: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Tls(format!("{context}: {error}"))
}

pub(crate) fn setup(mode: &TlsMode) -> Result<Option<TlsSetup>, EmulatorError> {
    let (chain, key, ca_certificate_pem) = match mode {
        TlsMode::Off => return Ok(None),
        TlsMode::SelfSigned => {
            let (chain, key, ca) = generate()?;
            (chain, key, Some(ca))
        }
        TlsMode::Files { cert, key } => {
            let read = |path: &PathBuf| {
                std::fs::read(path).map_err(|source| EmulatorError::ReadFile {
                    path: path.clone(),
                    source,
                })
            };
            let cert_pem = read(cert)?;
            let key_pem = read(key)?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| tls_error("cannot read the certificate", error))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|error| tls_error("cannot read the private key", error))?;
            (chain, key, None)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error("protocol versions", error))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| tls_error("certificate and key do not fit", error))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_certificate_pem,
    }))
}

type Generated = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// A CA and a server certificate it signed, for localhost, 127.0.0.1 and ::1.
fn generate() -> Result<Generated, EmulatorError> {
    let ca_key = KeyPair::generate().map_err(|error| tls_error("CA key", error))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|error| tls_error("CA", error))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hardmatch emulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_certificate = ca_params
        .self_signed(&ca_key)
        .map_err(|error| tls_error("CA certificate", error))?;
    let ca_pem = ca_certificate.pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().map_err(|error| tls_error("server key", error))?;
    let mut server_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|error| tls_error("server certificate", error))?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.use_authority_key_identifier_extension = true;
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_certificate = server_params
        .signed_by(&server_key, &issuer)
        .map_err(|error| tls_error("server certificate", error))?;
    let key = PrivateKeyDer::try_from(server_key.serialize_der())
        .map_err(|error| tls_error("server key", error))?;
    Ok((
        vec![
            server_certificate.der().clone(),
            ca_certificate.der().clone(),
        ],
        key,
        ca_pem,
    ))
}
