//! Client assertions (certificate credentials): a JWT signed with the app's private key,
//! verified against the public key of the certificate registered in the fixture. RS256
//! (what Rust `azure_identity` sends, with a SHA-1 `x5t`) and PS256 (what the 2025 doc
//! recommends, with `x5t#S256`) are both accepted (graph-api.md §2).

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest;
use ring::signature;
use serde_json::Value;

use super::jwt;
use crate::clock::unix_seconds;

/// Why an assertion was refused, mapped to AADSTS codes by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AssertionError {
    Malformed,
    /// AADSTS700027: no registered certificate, thumbprint mismatch, or bad signature.
    Signature(&'static str),
    /// AADSTS700024: outside `nbf`..`exp`.
    Lifetime,
    /// AADSTS700016-style audience or issuer mismatch.
    Claims(&'static str),
}

/// A certificate decoded from PEM.
pub(crate) struct Certificate {
    der: Vec<u8>,
}

impl Certificate {
    pub(crate) fn from_pem(pem: &str) -> Option<Self> {
        let body: String = pem
            .lines()
            .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
            .skip(1)
            .take_while(|line| !line.starts_with("-----END CERTIFICATE-----"))
            .collect();
        let der = STANDARD.decode(body.trim()).ok()?;
        Some(Self { der })
    }

    pub(crate) fn sha1_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der))
    }

    pub(crate) fn sha256_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.der))
    }

    /// The RSA public key (PKCS#1 DER) inside the certificate.
    fn rsa_public_key(&self) -> Option<Vec<u8>> {
        let (_, certificate) = x509_parser::parse_x509_certificate(&self.der).ok()?;
        Some(certificate.public_key().subject_public_key.data.to_vec())
    }
}

/// Verifies a client assertion for `client_id`; `audiences` are the token endpoint URLs
/// the assertion may name.
pub(crate) fn verify(
    assertion: &str,
    client_id: &str,
    certificate_pem: Option<&str>,
    audiences: &[String],
    now: SystemTime,
) -> Result<(), AssertionError> {
    let decoded = jwt::decode(assertion).ok_or(AssertionError::Malformed)?;
    let certificate = certificate_pem
        .and_then(Certificate::from_pem)
        .ok_or(AssertionError::Signature("The key was not found."))?;
    let header_text = |name: &str| decoded.header.get(name).and_then(Value::as_str);
    let thumbprint_matches = match (header_text("x5t#S256"), header_text("x5t")) {
        (Some(sha256), _) => sha256 == certificate.sha256_thumbprint(),
        (None, Some(sha1)) => sha1 == certificate.sha1_thumbprint(),
        (None, None) => false,
    };
    if !thumbprint_matches {
        return Err(AssertionError::Signature("The key was not found."));
    }
    let algorithm: &dyn signature::VerificationAlgorithm = match header_text("alg") {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
        _ => {
            return Err(AssertionError::Signature(
                "The signing algorithm is not supported.",
            ));
        }
    };
    let public_key = certificate
        .rsa_public_key()
        .ok_or(AssertionError::Signature("The key was not found."))?;
    signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(decoded.signing_input.as_bytes(), &decoded.signature)
        .map_err(|_| AssertionError::Signature("The signature is invalid."))?;
    let claims = &decoded.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(audience)) => audiences
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(audience)),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|audience| {
            audiences
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(audience))
        }),
        _ => false,
    };
    if !audience_ok {
        return Err(AssertionError::Claims(
            "The audience claim is not the token endpoint.",
        ));
    }
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(AssertionError::Claims(
            "The issuer and subject must be the client id.",
        ));
    }
    let now = unix_seconds(now);
    // Entra tolerates five minutes of clock skew on nbf.
    let not_before = claims
        .get("nbf")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(AssertionError::Lifetime)?;
    if now >= expires || not_before > now + 300 {
        return Err(AssertionError::Lifetime);
    }
    Ok(())
}
