//! Compact JWS encoding and the emulator's own signing key.
//!
//! Access tokens are signed with a P-256 key generated at start (ES256): clients treat
//! Graph tokens as opaque, so only the emulator itself verifies them, and a fresh key per
//! run means a token from an earlier run is rejected like a token from another tenant.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::error::EmulatorError;

/// The parts of a compact JWS, decoded but not verified.
#[derive(Debug)]
pub(crate) struct DecodedJwt {
    pub(crate) header: Value,
    pub(crate) claims: Value,
    /// `base64url(header).base64url(claims)`, the bytes the signature covers.
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

/// Splits and decodes a compact JWS; `None` when it is not one.
pub(crate) fn decode(token: &str) -> Option<DecodedJwt> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header_json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let claims_json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    if !header_json.is_object() || !claims_json.is_object() {
        return None;
    }
    Some(DecodedJwt {
        header: header_json,
        claims: claims_json,
        signing_input: format!("{header}.{claims}"),
        signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
    })
}

/// The emulator's token-signing key.
pub(crate) struct TokenSigner {
    key_pair: EcdsaKeyPair,
    key_id: String,
    random: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let random = SystemRandom::new();
        let algorithm = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algorithm, &random)
            .map_err(|_| EmulatorError::Crypto("cannot generate the token-signing key".into()))?;
        let key_pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &random)
            .map_err(|_| EmulatorError::Crypto("cannot load the token-signing key".into()))?;
        let key_id = URL_SAFE_NO_PAD.encode(&key_pair.public_key().as_ref()[1..21]);
        Ok(Self {
            key_pair,
            key_id,
            random,
        })
    }

    pub(crate) fn sign(&self, claims: &Value) -> Result<String, EmulatorError> {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.key_id});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key_pair
            .sign(&self.random, input.as_bytes())
            .map_err(|_| EmulatorError::Crypto("cannot sign a token".into()))?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Verifies a token this emulator issued; returns its claims.
    pub(crate) fn verify(&self, token: &str) -> Result<Value, TokenRejection> {
        let decoded = decode(token).ok_or(TokenRejection::Malformed)?;
        if decoded.header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(TokenRejection::BadSignature);
        }
        let public_key = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key_pair.public_key().as_ref(),
        );
        public_key
            .verify(decoded.signing_input.as_bytes(), &decoded.signature)
            .map_err(|_| TokenRejection::BadSignature)?;
        Ok(decoded.claims)
    }

    /// The public key as a JWKS document, for the discovery endpoint.
    pub(crate) fn jwks(&self) -> Value {
        let point = self.key_pair.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC",
            "use": "sig",
            "crv": "P-256",
            "alg": "ES256",
            "kid": self.key_id,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    Malformed,
    BadSignature,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let signer = TokenSigner::generate().unwrap();
        let token = signer
            .sign(&json!({"tid": "t", "roles": ["User.Read.All"]}))
            .unwrap();
        assert_eq!(signer.verify(&token).unwrap()["tid"], "t");
        let other = TokenSigner::generate().unwrap();
        assert_eq!(other.verify(&token), Err(TokenRejection::BadSignature));
        assert_eq!(signer.verify("not-a-token"), Err(TokenRejection::Malformed));
    }
}
