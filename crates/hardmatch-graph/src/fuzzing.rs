//! Entry points for the fuzz targets in the repository's `fuzz/` crate. Decoding Graph and
//! sign-in answers is crate-private and normally sits behind a live HTTP exchange; fuzzing
//! it through a server would spend each input on a round trip instead of on the decoding.
//! Not an API.

use hardmatch_core::tenant::{CloudUser, Domain, RoleAssignment, RoleDefinition};
use reqwest::header::{HeaderMap, HeaderValue};

use crate::auth::{OAuthError, TokenResponse};
use crate::client::{BatchResponse, Page, decode, error_from_response};
use crate::directory::Organization;
use crate::error::{Operation, RequestIds};
use crate::http::Incoming;
use crate::users::LicenseDetails;

/// What one answer decoded to.
#[derive(Debug)]
pub struct Decoded {
    /// How many of the typed decodings accepted the body.
    pub decoded: usize,
    /// The answer classified as an error response, as the CLI would show it.
    pub error: String,
    pub hint: String,
}

/// Runs one answer (status, headers, body) through every decoding the client applies to
/// answers: the typed pages and objects, `$batch`, the token endpoint's success and error
/// shapes, and the classification of error responses with their message and hint.
pub fn response(
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
) -> Decoded {
    let mut headers = HeaderMap::new();
    for (name, value) in [("content-type", content_type), ("retry-after", retry_after)] {
        if let Some(value) = value.and_then(|value| HeaderValue::from_str(value).ok()) {
            headers.insert(name, value);
        }
    }
    let url = "https://graph.microsoft.com/v1.0/users";
    let incoming = Incoming {
        url: url.to_owned(),
        status,
        headers,
        body: body.to_vec(),
        request: RequestIds::default(),
        attempts: 1,
    };
    let decoded = [
        decode::<Page<CloudUser>>(&incoming).is_ok(),
        decode::<CloudUser>(&incoming).is_ok(),
        decode::<Page<Domain>>(&incoming).is_ok(),
        decode::<Page<RoleDefinition>>(&incoming).is_ok(),
        decode::<Page<RoleAssignment>>(&incoming).is_ok(),
        decode::<Page<LicenseDetails>>(&incoming).is_ok(),
        decode::<Organization>(&incoming).is_ok(),
        decode::<BatchResponse>(&incoming).is_ok(),
        serde_json::from_slice::<TokenResponse>(body).is_ok(),
    ];
    // The token endpoint's error shape is read first where it applies, as `post_form` does.
    let error = match serde_json::from_slice::<OAuthError>(body) {
        Ok(oauth) => oauth.into_graph_error(),
        Err(_) => error_from_response(&incoming, url, Operation::ReadUsers, "users"),
    };
    Decoded {
        decoded: decoded.iter().filter(|ok| **ok).count(),
        error: error.to_string(),
        hint: error.hint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_users_decodes() {
        let body = br#"{"value":[{"id":"1","userPrincipalName":"a@contoso.com"}]}"#;
        // Both page shapes whose items need no more than an id, plus the batch and
        // organization shapes, which tolerate a body without their fields.
        assert!(response(200, Some("application/json"), None, body).decoded >= 2);
    }

    #[test]
    fn html_from_a_proxy_decodes_to_nothing() {
        let body = b"<!DOCTYPE html><html><body>blocked</body></html>";
        let decoded = response(200, Some("text/html"), Some("5"), body);
        assert_eq!(decoded.decoded, 0);
        assert!(decoded.error.contains("HTML"), "{}", decoded.error);
    }
}
