//! Authentication against the Microsoft identity platform (v2.0 endpoints).
//!
//! | Method | How |
//! |---|---|
//! | Client secret | `client_credentials` grant with `client_secret` |
//! | Certificate (PEM or PFX) | `client_credentials` grant with a signed JWT `client_assertion` ([`certificate`]) |
//! | Device code | `devicecode` endpoint, Microsoft's message through a callback, then polling |
//! | Azure CLI | `az account get-access-token --resource-type ms-graph` as a child process |
//! | Environment | azure-identity's variable names, read by the CLI into [`EnvironmentCredentials`](crate::settings::EnvironmentCredentials): secret, else certificate |
//!
//! Tokens are cached in memory only, per client, and renewed five minutes before they
//! expire (or at half their lifetime when that is shorter); one renewal at a time. A device-code
//! sign-in keeps its refresh token in memory to renew without asking again. Nothing is
//! persisted, so there is no token file to protect.
//!
//! # Why not the `azure_identity` crate
//!
//! The official crate (1.x) was evaluated method by method:
//!
//! - **Client secret**: it would work, but only against `https` authorities, so the emulator
//!   would need TLS for every test, and its errors are `azure_core::Error` values in which the
//!   AADSTS code, trace id and correlation id survive only as text. hardmatch reports them
//!   as fields ([`GraphError::Authentication`]) so that the
//!   hint can name the fix (wrong secret value vs. expired secret vs. unknown app).
//! - **Certificate**: its `client_certificate` feature links the system OpenSSL, a second
//!   crypto library next to rustls/ring, and it signs RS256 with a SHA-1 `x5t`, where
//!   Microsoft now recommends PS256 with `x5t#S256`. Signing here takes ring, already present.
//! - **Device code**: not provided at all, yet needed for the delegated Global Administrator
//!   token that reads the tenant's sync-feature flags.
//! - **Azure CLI**: provided (`AzureCliCredential`), but it asks for `--scope`, where the
//!   CLI's `--resource-type ms-graph` selects the right Graph for the cloud the user is
//!   logged in to; it also pulls azure_core's HTTP pipeline in for a child process.
//! - **Environment**: azure-identity reads the process environment itself (it also honours
//!   `AZURE_AUTHORITY_HOST`), while hardmatch reads variables only in the CLI's settings
//!   step.
//!
//! Its default TLS feature also brings rustls with aws-lc-rs, a second crypto provider in a
//! workspace that standardises on ring. Each flow is one form POST, so implementing them on
//! the client's own retrying transport costs less than adapting the crate, and the same
//! retry, time-out, redaction and error model applies to sign-in and Graph alike.

pub mod certificate;

mod azure_cli;
mod device_code;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use serde::Deserialize;

use crate::error::{GraphError, RequestIds, aadsts_code};
use crate::http::{Body, Outgoing, Transport};
use crate::secret::Secret;
use crate::settings::{
    CredentialSettings, DeviceCodePrompt, Endpoints, GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID,
    GraphSettings,
};
use certificate::{AssertionAlgorithm, ClientCertificate};

/// The credential of a client, resolved from the settings.
#[derive(Debug)]
enum Credential {
    ClientSecret(Secret),
    Certificate(Box<ClientCertificate>),
    DeviceCode(DeviceCodePrompt),
    AzureCli(PathBuf),
}

#[derive(Debug)]
struct CachedToken {
    token: Secret,
    renew_at: Instant,
}

#[derive(Debug, Default)]
struct TokenCache {
    current: Option<CachedToken>,
    refresh_token: Option<Secret>,
}

/// Obtains and caches access tokens.
#[derive(Debug)]
pub(crate) struct Authenticator {
    credential: Credential,
    tenant: Option<String>,
    client_id: String,
    endpoints: Endpoints,
    algorithm: AssertionAlgorithm,
    /// The `scope` of delegated sign-ins (device code).
    delegated_scope: String,
    cache: tokio::sync::Mutex<TokenCache>,
}

impl Authenticator {
    pub(crate) fn from_settings(
        settings: &GraphSettings,
        endpoints: Endpoints,
    ) -> Result<Self, GraphError> {
        let environment = &settings.environment;
        let tenant = settings
            .tenant_id
            .clone()
            .or_else(|| environment.tenant_id.clone());
        let client_id = settings
            .client_id
            .clone()
            .or_else(|| environment.client_id.clone());
        let missing = |what: &str| GraphError::Configuration {
            reason: format!("{what} is required for this sign-in method"),
        };
        let (credential, client_id) = match &settings.credential {
            CredentialSettings::ClientSecret(secret) => (
                Credential::ClientSecret(secret.clone()),
                client_id.ok_or_else(|| missing("--client-id (or AZURE_CLIENT_ID)"))?,
            ),
            CredentialSettings::Certificate { path, password } => (
                Credential::Certificate(Box::new(ClientCertificate::load(
                    path,
                    password.as_ref(),
                )?)),
                client_id.ok_or_else(|| missing("--client-id (or AZURE_CLIENT_ID)"))?,
            ),
            CredentialSettings::Environment => {
                let client_id = client_id.ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
                if let Some(secret) = &environment.client_secret {
                    (Credential::ClientSecret(secret.clone()), client_id)
                } else if let Some(path) = &environment.client_certificate_path {
                    let certificate = ClientCertificate::load(
                        path,
                        environment.client_certificate_password.as_ref(),
                    )?;
                    (Credential::Certificate(Box::new(certificate)), client_id)
                } else {
                    return Err(missing(
                        "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
                    ));
                }
            }
            CredentialSettings::DeviceCode { prompt } => (
                Credential::DeviceCode(prompt.clone()),
                client_id.unwrap_or_else(|| GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID.to_owned()),
            ),
            CredentialSettings::AzureCli { program } => (
                Credential::AzureCli(program.clone()),
                client_id.unwrap_or_default(),
            ),
        };
        let tenant = match (&credential, tenant) {
            (Credential::AzureCli(_), tenant) => tenant,
            // Device code can sign in without a tenant: `organizations` lets the user's
            // home tenant decide.
            (Credential::DeviceCode(_), tenant) => {
                Some(tenant.unwrap_or_else(|| "organizations".to_owned()))
            }
            (_, Some(tenant)) => Some(tenant),
            (_, None) => return Err(missing("--tenant-id (or AZURE_TENANT_ID)")),
        };
        let delegated_scope = delegated_scope(&settings.delegated_scopes, &endpoints);
        Ok(Self {
            credential,
            tenant,
            client_id,
            endpoints,
            algorithm: settings.assertion_algorithm,
            delegated_scope,
            cache: tokio::sync::Mutex::new(TokenCache::default()),
        })
    }

    /// The method's name for logs and snapshots.
    pub(crate) fn method_name(&self) -> &'static str {
        match self.credential {
            Credential::ClientSecret(_) => "client secret",
            Credential::Certificate(_) => "certificate",
            Credential::DeviceCode(_) => "device code",
            Credential::AzureCli(_) => "Azure CLI",
        }
    }

    /// A valid access token, from the cache when it has one.
    pub(crate) async fn token(&self, transport: &Transport) -> Result<Secret, GraphError> {
        let mut cache = self.cache.lock().await;
        if let Some(current) = &cache.current
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let (token, lifetime) = self.acquire(transport, &mut cache).await?;
        let margin = Duration::from_secs(300).min(lifetime / 2);
        cache.current = Some(CachedToken {
            token: token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        tracing::debug!(
            method = self.method_name(),
            lifetime_s = lifetime.as_secs(),
            "signed in"
        );
        Ok(token)
    }

    /// Forgets the cached token after Graph refused it.
    pub(crate) async fn invalidate(&self) {
        self.cache.lock().await.current = None;
    }

    async fn acquire(
        &self,
        transport: &Transport,
        cache: &mut TokenCache,
    ) -> Result<(Secret, Duration), GraphError> {
        let tenant = self.tenant.as_deref().unwrap_or("organizations");
        let token_url = self.endpoints.oauth_url(tenant, "token");
        let scope = self.endpoints.scope.as_str();
        let response = match &self.credential {
            Credential::ClientSecret(secret) => {
                let fields = [
                    ("client_id", self.client_id.as_str()),
                    ("scope", scope),
                    ("client_secret", secret.expose()),
                    ("grant_type", "client_credentials"),
                ];
                post_form(transport, &token_url, &fields)
                    .await
                    .map_err(TokenEndpointError::into_graph_error)?
            }
            Credential::Certificate(certificate) => {
                let assertion = certificate.assertion(
                    &self.client_id,
                    &token_url,
                    self.algorithm,
                    SystemTime::now(),
                    &uuid::Uuid::new_v4().to_string(),
                )?;
                let fields = [
                    ("client_id", self.client_id.as_str()),
                    ("scope", scope),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose()),
                    ("grant_type", "client_credentials"),
                ];
                post_form(transport, &token_url, &fields)
                    .await
                    .map_err(TokenEndpointError::into_graph_error)?
            }
            Credential::DeviceCode(prompt) => {
                let delegated_scope = self.delegated_scope.clone();
                let refreshed = match cache.refresh_token.take() {
                    Some(refresh_token) => {
                        let fields = [
                            ("client_id", self.client_id.as_str()),
                            ("scope", delegated_scope.as_str()),
                            ("refresh_token", refresh_token.expose()),
                            ("grant_type", "refresh_token"),
                        ];
                        // A refused refresh token falls back to a new sign-in.
                        post_form(transport, &token_url, &fields).await.ok()
                    }
                    None => None,
                };
                match refreshed {
                    Some(response) => response,
                    None => {
                        let devicecode_url = self.endpoints.oauth_url(tenant, "devicecode");
                        device_code::sign_in(
                            transport,
                            &devicecode_url,
                            &token_url,
                            &self.client_id,
                            &delegated_scope,
                            prompt,
                        )
                        .await?
                    }
                }
            }
            Credential::AzureCli(program) => {
                return azure_cli::token(program, self.tenant.as_deref()).await;
            }
        };
        if response.refresh_token.is_some() {
            cache.refresh_token = response.refresh_token.clone();
        }
        Ok((
            response.access_token,
            Duration::from_secs(response.expires_in),
        ))
    }
}

/// `https://graph.microsoft.com/User.ReadWrite.All … offline_access`, or `.default` when
/// no scope is named; `offline_access` brings a refresh token.
fn delegated_scope(scopes: &[String], endpoints: &Endpoints) -> String {
    let mut qualified: Vec<String> = scopes
        .iter()
        .map(|scope| {
            let is_openid = matches!(
                scope.as_str(),
                "openid" | "profile" | "email" | "offline_access"
            );
            if scope.contains("://") || is_openid {
                scope.clone()
            } else {
                format!("{}/{scope}", endpoints.resource)
            }
        })
        .collect();
    if qualified.is_empty() {
        qualified.push(endpoints.scope.clone());
    }
    if !qualified.iter().any(|scope| scope == "offline_access") {
        qualified.push("offline_access".to_owned());
    }
    qualified.join(" ")
}

/// A successful token response.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    access_token: Secret,
    #[serde(default = "default_lifetime", deserialize_with = "number_or_text")]
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<Secret>,
}

fn default_lifetime() -> u64 {
    3599
}

/// An OAuth error response (`{"error", "error_description", "error_codes", …}`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(skip)]
    request: RequestIds,
}

impl OAuthError {
    pub(crate) fn into_graph_error(self) -> GraphError {
        // The description ends in "\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …",
        // which the ids already carry.
        let description = self
            .error_description
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        GraphError::Authentication {
            aadsts_code: self
                .error_codes
                .first()
                .copied()
                .or_else(|| aadsts_code(&description)),
            error: self.error,
            description,
            trace_id: self.trace_id,
            correlation_id: self.correlation_id,
            request: self.request,
        }
    }
}

pub(crate) enum TokenEndpointError {
    OAuth(OAuthError),
    Other(GraphError),
}

impl TokenEndpointError {
    fn into_graph_error(self) -> GraphError {
        match self {
            TokenEndpointError::OAuth(error) => error.into_graph_error(),
            TokenEndpointError::Other(error) => error,
        }
    }
}

/// POSTs a form to the sign-in service and reads a token.
pub(crate) async fn post_form(
    transport: &Transport,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<TokenResponse, TokenEndpointError> {
    let incoming = send_form(transport, url, fields)
        .await
        .map_err(TokenEndpointError::Other)?;
    if let Some(error) = incoming.html_instead_of_json() {
        return Err(TokenEndpointError::Other(error));
    }
    if incoming.is_success() {
        return serde_json::from_slice(&incoming.body).map_err(|error| {
            TokenEndpointError::Other(GraphError::UnexpectedResponse {
                reason: format!("token response: {error}"),
                request: incoming.request.clone(),
            })
        });
    }
    match serde_json::from_slice::<OAuthError>(&incoming.body) {
        Ok(mut error) if !error.error.is_empty() => {
            error.request = incoming.request;
            Err(TokenEndpointError::OAuth(error))
        }
        _ => Err(TokenEndpointError::Other(
            crate::client::error_from_response(
                &incoming,
                url,
                crate::error::Operation::Authenticate,
                "token endpoint",
            ),
        )),
    }
}

/// POSTs a form and reads any JSON answer (the device-code start).
async fn post_form_json<T: serde::de::DeserializeOwned>(
    transport: &Transport,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<T, GraphError> {
    let incoming = send_form(transport, url, fields).await?;
    if let Some(error) = incoming.html_instead_of_json() {
        return Err(error);
    }
    if !incoming.is_success() {
        return match serde_json::from_slice::<OAuthError>(&incoming.body) {
            Ok(mut error) if !error.error.is_empty() => {
                error.request = incoming.request;
                Err(error.into_graph_error())
            }
            _ => Err(crate::client::error_from_response(
                &incoming,
                url,
                crate::error::Operation::Authenticate,
                "devicecode endpoint",
            )),
        };
    }
    serde_json::from_slice(&incoming.body).map_err(|error| GraphError::UnexpectedResponse {
        reason: format!("sign-in response: {error}"),
        request: incoming.request,
    })
}

async fn send_form(
    transport: &Transport,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<crate::http::Incoming, GraphError> {
    // The serializer is not `Send`; it must be gone before the await.
    let form = {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    };
    let mut outgoing = Outgoing::new(Method::POST, url.to_owned());
    outgoing.body = Some(Body::Form(Secret::new(form)));
    // Each form POST either issues a token or fails; sending it again is harmless.
    outgoing.idempotent = true;
    transport.send(&outgoing).await
}

/// Entra ID has sent `expires_in` both as a number and as a string.
pub(crate) fn number_or_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(number) => number
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("expected a positive integer")),
        serde_json::Value::String(text) => text.trim().parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("expected a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegated_scopes_are_qualified_with_the_clouds_graph() {
        let mut settings = GraphSettings::new(CredentialSettings::Environment);
        settings.cloud = crate::settings::Cloud::UsGovernment;
        let endpoints = Endpoints::resolve(&settings).expect("endpoints");
        assert_eq!(
            delegated_scope(&[], &endpoints),
            "https://graph.microsoft.us/.default offline_access"
        );
        let scopes = vec!["User.ReadWrite.All".to_owned(), "openid".to_owned()];
        assert_eq!(
            delegated_scope(&scopes, &endpoints),
            "https://graph.microsoft.us/User.ReadWrite.All openid offline_access"
        );
    }

    #[test]
    fn oauth_errors_keep_code_and_first_line_only() {
        let body = r#"{"error":"invalid_scope",
 "error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid. ...\r\nTrace ID: 255d1aef\r\nCorrelation ID: fb3d2015\r\nTimestamp: 2016-01-09 02:02:12Z",
 "error_codes":[70011],"timestamp":"2016-01-09 02:02:12Z","trace_id":"255d1aef-8c98-452f-ac51-23d051240864","correlation_id":"fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7"}"#;
        let error: OAuthError = serde_json::from_str(body).expect("parses");
        match error.into_graph_error() {
            GraphError::Authentication {
                error,
                aadsts_code,
                description,
                trace_id,
                ..
            } => {
                assert_eq!(error, "invalid_scope");
                assert_eq!(aadsts_code, Some(70011));
                assert!(description.ends_with("is not valid. ..."), "{description}");
                assert_eq!(
                    trace_id.as_deref(),
                    Some("255d1aef-8c98-452f-ac51-23d051240864")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_secret_hint_says_value_not_id() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00000000-0000-0000-0000-000000000001'."}"#;
        let error: OAuthError = serde_json::from_str(body).expect("parses");
        let error = error.into_graph_error();
        assert!(error.hint().contains("not its id"), "{}", error.hint());
        assert!(error.to_string().contains("AADSTS7000215"));
    }

    #[test]
    fn token_responses_accept_text_lifetimes_and_hide_the_token() {
        let response: TokenResponse =
            serde_json::from_str(r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":3599,"access_token":"eyJ0eXAiOi.secret"}"#)
                .expect("parses");
        assert_eq!(response.expires_in, 3599);
        assert!(!format!("{response:?}").contains("eyJ0eXAiOi"));
    }
}
