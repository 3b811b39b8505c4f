//! Certificate credentials: loading PEM or PFX/PKCS#12 and signing the JWT client assertion.
//!
//! The assertion follows Microsoft's certificate-credentials page: header `alg` PS256 (the
//! current recommendation; RS256 remains accepted and is what azure_identity 1.0 sends),
//! `typ` JWT and `x5t#S256`, the base64url SHA-256 of the DER certificate (plus the SHA-1
//! `x5t` for RS256, which older validators look for); claims `aud` (the token endpoint),
//! `iss` = `sub` = client id, a GUID `jti`, `nbf`/`iat` now and `exp` ten minutes later.
//! Signing uses ring, the crypto provider rustls already uses here.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::GraphError;
use crate::secret::Secret;

/// The signature algorithm of the client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, Microsoft's current recommendation.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

/// How long an assertion is valid: Microsoft asks for 5 to 10 minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// An RSA key and the certificate registered for it on the app registration.
pub struct ClientCertificate {
    key: RsaKeyPair,
    certificate: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientCertificate")
            .field("x5t#S256", &self.sha256_thumbprint())
            .field("key", &Secret::REDACTED)
            .finish()
    }
}

impl ClientCertificate {
    /// Reads a PEM file (certificate first, then the unencrypted private key) or a PFX.
    pub fn load(path: &Path, password: Option<&Secret>) -> Result<Self, GraphError> {
        let failure = |reason: String| GraphError::Certificate {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|error| failure(error.to_string()))?;
        if bytes.windows(11).any(|window| window == b"-----BEGIN ") {
            Self::from_pem(&bytes).map_err(failure)
        } else {
            Self::from_pkcs12(&bytes, password).map_err(failure)
        }
    }

    /// A PEM bundle: the first certificate is the one registered in Entra ID.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if pem
            .windows(21)
            .any(|window| window == b"ENCRYPTED PRIVATE KEY")
        {
            return Err(
                "the private key is encrypted; decrypt it (`openssl pkey -in key.pem \
                        -out plain.pem`) or use a PFX with a password"
                    .to_owned(),
            );
        }
        let certificate = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or("no CERTIFICATE block in the PEM file")?
            .map_err(|error| format!("bad certificate PEM: {error}"))?;
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|error| format!("no usable private key in the PEM file: {error}"))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => {
                return Err(
                    "the private key is not RSA; Entra ID certificate credentials use RSA"
                        .to_owned(),
                );
            }
        }
        .map_err(|error| format!("the private key is not a usable RSA key: {error}"))?;
        Ok(Self {
            key,
            certificate: certificate.as_ref().to_vec(),
        })
    }

    /// A PFX/PKCS#12 archive (legacy 3DES/RC2 or AES/PBES2 encryption).
    pub fn from_pkcs12(der: &[u8], password: Option<&Secret>) -> Result<Self, String> {
        let password = password.map(Secret::expose).unwrap_or("");
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|error| format!("cannot open the PFX (wrong password?): {error}"))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or("the PFX holds no private key with a certificate")?;
        let certificate = chain
            .certs()
            .first()
            .ok_or("the PFX holds no certificate for its key")?;
        let key = RsaKeyPair::from_pkcs8(chain.key().as_der())
            .map_err(|error| format!("the PFX key is not a usable RSA key: {error}"))?;
        Ok(Self {
            key,
            certificate: certificate.as_der().to_vec(),
        })
    }

    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    pub fn sha256_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            &self.certificate,
        ))
    }

    /// base64url SHA-1 of the DER certificate (`x5t`), what the portal shows as thumbprint.
    pub fn sha1_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.certificate,
        ))
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        algorithm: AssertionAlgorithm,
        issued_at: SystemTime,
        jwt_id: &str,
    ) -> Result<Secret, GraphError> {
        let header = match algorithm {
            AssertionAlgorithm::Ps256 => serde_json::json!({
                "alg": "PS256",
                "typ": "JWT",
                "x5t#S256": self.sha256_thumbprint(),
            }),
            AssertionAlgorithm::Rs256 => serde_json::json!({
                "alg": "RS256",
                "typ": "JWT",
                "x5t": self.sha1_thumbprint(),
                "x5t#S256": self.sha256_thumbprint(),
            }),
        };
        let now = issued_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jwt_id,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding: &'static dyn signature::RsaEncoding = match algorithm {
            AssertionAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| GraphError::Certificate {
                path: "(loaded certificate)".to_owned(),
                reason: "signing the client assertion failed".to_owned(),
            })?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }

    /// The DER `RSAPublicKey`, for verifying assertions in tests.
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    /// `openssl x509 -in cert.pem -outform DER | sha256sum`.
    const CERTIFICATE_SHA256: &str =
        "aa3eb61e8e28bdc3557fc34f3e9d1e4ff0a728d3b164aa6921189e8873893031";
    const CERTIFICATE_SHA1: &str = "2434b785e5b10cc929327057f40f2c8d9612a486";

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(FIXTURES).join(name)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn password() -> Secret {
        Secret::new("fixture-password")
    }

    #[test]
    fn every_format_loads_the_same_certificate() {
        for (name, password) in [
            ("app-pkcs8.pem", None),
            ("app-pkcs1.pem", None),
            ("app-aes.pfx", Some(password())),
            ("app-legacy.pfx", Some(password())),
        ] {
            let certificate = ClientCertificate::load(&fixture(name), password.as_ref())
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            let sha256 = URL_SAFE_NO_PAD
                .decode(certificate.sha256_thumbprint())
                .expect("base64url");
            assert_eq!(hex(&sha256), CERTIFICATE_SHA256, "{name}");
            let sha1 = URL_SAFE_NO_PAD
                .decode(certificate.sha1_thumbprint())
                .expect("base64url");
            assert_eq!(hex(&sha1), CERTIFICATE_SHA1, "{name}");
            assert!(!format!("{certificate:?}").contains("BEGIN"));
        }
    }

    #[test]
    fn wrong_pfx_password_and_encrypted_pem_are_explained() {
        let error = ClientCertificate::load(&fixture("app-aes.pfx"), Some(&Secret::new("nope")))
            .expect_err("refused");
        assert!(error.to_string().contains("wrong password"), "{error}");
        assert!(!error.to_string().contains("nope"));
        let error =
            ClientCertificate::load(&fixture("app-encrypted.pem"), None).expect_err("refused");
        assert!(error.to_string().contains("encrypted"), "{error}");
        let error = ClientCertificate::load(&fixture("missing.pem"), None).expect_err("refused");
        assert!(matches!(error, GraphError::Certificate { .. }));
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
    }

    #[test]
    fn assertions_have_the_documented_structure_and_verify() {
        let certificate = ClientCertificate::load(&fixture("app-pkcs8.pem"), None).expect("loads");
        let audience = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
        let issued_at = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        for (algorithm, name, verifier) in [
            (
                AssertionAlgorithm::Ps256,
                "PS256",
                &signature::RSA_PSS_2048_8192_SHA256 as &dyn signature::VerificationAlgorithm,
            ),
            (
                AssertionAlgorithm::Rs256,
                "RS256",
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let assertion = certificate
                .assertion("app-id", audience, algorithm, issued_at, "jwt-id-1")
                .expect("signs");
            assert_eq!(format!("{assertion:?}"), "****");
            let parts: Vec<&str> = assertion.expose().split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = decode_part(parts[0]);
            assert_eq!(header["alg"], name);
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["x5t#S256"], certificate.sha256_thumbprint());
            assert_eq!(
                header.get("x5t").is_some(),
                algorithm == AssertionAlgorithm::Rs256
            );
            let claims = decode_part(parts[1]);
            assert_eq!(claims["aud"], audience);
            assert_eq!(claims["iss"], "app-id");
            assert_eq!(claims["sub"], "app-id");
            assert_eq!(claims["jti"], "jwt-id-1");
            assert_eq!(claims["nbf"], 1_795_000_000_u64);
            assert_eq!(claims["iat"], 1_795_000_000_u64);
            assert_eq!(claims["exp"], 1_795_000_600_u64);
            let signed = format!("{}.{}", parts[0], parts[1]);
            let signature_bytes = URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url");
            signature::UnparsedPublicKey::new(verifier, certificate.public_key_der())
                .verify(signed.as_bytes(), &signature_bytes)
                .expect("signature verifies with the certificate's key");
        }
    }
}
