//! The typed error model: every failure the Graph client reports, with the request ids to
//! quote to Microsoft support and a [`GraphError::hint`] naming the user's next step.
//!
//! Graph's stable key is the error `code`; `message` texts change. Two situations are only
//! recognisable by message, and both captured forms are accepted (graph-api.md §10, §16 #2):
//! the duplicate-ImmutableID conflict (with or without `details`) and the refusal to write
//! to an object mastered on-premises.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// The next step for a change Graph refuses on a synced user, and that the executor gives
/// when a target became synced after the plan was made.
pub const SYNCED_OBJECT_HINT: &str = "the user is synced from Active Directory \
    (onPremisesSyncEnabled = true); change it in AD, or take it out of sync scope first";

/// The ids that identify one HTTP exchange in Microsoft's logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// The GUID this client sent in `client-request-id`.
    pub client_request_id: Option<String>,
    /// The `request-id` Graph answered with (absent when no answer arrived).
    pub request_id: Option<String>,
}

impl fmt::Display for RequestIds {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.request_id, &self.client_request_id) {
            (Some(request), Some(client)) => {
                write!(
                    formatter,
                    "request-id {request}, client-request-id {client}"
                )
            }
            (Some(request), None) => write!(formatter, "request-id {request}"),
            (None, Some(client)) => write!(formatter, "client-request-id {client}"),
            (None, None) => formatter.write_str("no request id"),
        }
    }
}

/// What the client was doing, to name the permission a 403 is about (graph-api.md §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    Authenticate,
    ReadUsers,
    ReadDeletedUsers,
    SetImmutableId,
    ClearOnPremisesAttributes,
    DeleteUser,
    RestoreUser,
    PurgeUser,
    ReadLicenseDetails,
    ReadSignInActivity,
    ReadRoles,
    ReadOrganization,
    ReadDomains,
    ReadSyncSettings,
    WriteSyncSettings,
    StartSynchronizationJob,
    Batch,
}

impl Operation {
    /// The least-privileged Graph permission for this operation.
    pub fn least_permission(self) -> &'static str {
        match self {
            Operation::Authenticate | Operation::Batch => "(per request)",
            Operation::ReadUsers => "User.Read.All",
            Operation::ReadDeletedUsers => "User.Read.All",
            Operation::SetImmutableId | Operation::ClearOnPremisesAttributes => {
                "User.ReadWrite.All"
            }
            Operation::DeleteUser | Operation::RestoreUser | Operation::PurgeUser => {
                "User.DeleteRestore.All"
            }
            Operation::ReadLicenseDetails => "LicenseAssignment.Read.All (delegated)",
            Operation::ReadSignInActivity => {
                "AuditLog.Read.All, in a tenant with Microsoft Entra ID P1 or P2"
            }
            Operation::ReadRoles => "RoleManagement.Read.Directory",
            Operation::ReadOrganization => "Organization.Read.All",
            Operation::ReadDomains => "Domain.Read.All",
            Operation::ReadSyncSettings => "OnPremDirectorySynchronization.Read.All (delegated)",
            Operation::WriteSyncSettings => {
                "OnPremDirectorySynchronization.ReadWrite.All (delegated)"
            }
            Operation::StartSynchronizationJob => "Synchronization.ReadWrite.All",
        }
    }

    /// The directory role a delegated caller (or the target) needs, where one matters.
    pub fn required_role(self) -> Option<&'static str> {
        match self {
            Operation::SetImmutableId
            | Operation::DeleteUser
            | Operation::RestoreUser
            | Operation::PurgeUser => Some(
                "User Administrator, or Privileged Authentication Administrator when the target \
                 user holds an admin role",
            ),
            Operation::ClearOnPremisesAttributes => {
                Some("User Administrator or Hybrid Identity Administrator")
            }
            Operation::ReadSyncSettings | Operation::WriteSyncSettings => {
                Some("Global Administrator")
            }
            Operation::ReadSignInActivity => {
                Some("Reports Reader, Security Reader or Global Reader")
            }
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Operation::Authenticate => "sign in",
            Operation::ReadUsers => "read users",
            Operation::ReadDeletedUsers => "read deleted users",
            Operation::SetImmutableId => "set onPremisesImmutableId",
            Operation::ClearOnPremisesAttributes => "clear on-premises attributes",
            Operation::DeleteUser => "delete a user",
            Operation::RestoreUser => "restore a deleted user",
            Operation::PurgeUser => "permanently delete a user",
            Operation::ReadLicenseDetails => "read licence details",
            Operation::ReadSignInActivity => "read sign-in activity",
            Operation::ReadRoles => "read role assignments",
            Operation::ReadOrganization => "read the organization",
            Operation::ReadDomains => "read domains",
            Operation::ReadSyncSettings => "read the tenant's sync settings",
            Operation::WriteSyncSettings => "change the tenant's sync settings",
            Operation::StartSynchronizationJob => "start a synchronization job",
            Operation::Batch => "send a batch",
        };
        formatter.write_str(text)
    }
}

/// Why the device-code sign-in ended without a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceCodeFailure {
    /// Nobody entered the code in time (`expired_token`).
    Expired,
    /// The user declined (`authorization_declined`).
    Declined,
    /// The code was not recognised (`bad_verification_code`).
    BadCode,
}

/// A failure talking to Entra ID or Microsoft Graph.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    #[error(
        "another object already holds this {property}{holder} ({request})",
        holder = holder_object_id.as_deref().map(|id| format!(": object {id}")).unwrap_or_default()
    )]
    Conflict {
        property: String,
        /// The holder's object id, from `ConflictingObjects` (`User_<objectId>`).
        holder_object_id: Option<String>,
        message: String,
        request: RequestIds,
    },

    #[error(
        "the object is synced from on-premises and Entra ID refuses the change: {message} ({request})"
    )]
    SyncedObject {
        message: String,
        request: RequestIds,
    },

    #[error("not found: {resource} ({request})")]
    NotFound {
        resource: String,
        message: String,
        request: RequestIds,
    },

    #[error(
        "permission denied to {operation}: needs {permission} ({request})",
        permission = operation.least_permission()
    )]
    PermissionDenied {
        operation: Operation,
        message: String,
        request: RequestIds,
    },

    #[error("Microsoft Graph kept throttling after {attempts} attempts ({request})")]
    Throttled {
        attempts: u32,
        retry_after: Option<Duration>,
        /// `x-ms-throttle-scope`, e.g. `Tenant_Application/Write/<app>/<tenant>`.
        scope: Option<String>,
        request: RequestIds,
    },

    #[error("transient failure after {attempts} attempts: {message} ({request})")]
    Transient {
        status: Option<u16>,
        attempts: u32,
        message: String,
        request: RequestIds,
    },

    #[error(
        "authentication failed: {error}{code}: {description}",
        code = aadsts_code.map(|code| format!(" (AADSTS{code})")).unwrap_or_default()
    )]
    Authentication {
        /// OAuth `error` (`invalid_client`, …) or Graph's code (`InvalidAuthenticationToken`).
        error: String,
        aadsts_code: Option<u32>,
        /// The first line of `error_description` (the trace lines are in the ids).
        description: String,
        trace_id: Option<String>,
        correlation_id: Option<String>,
        request: RequestIds,
    },

    #[error("device-code sign-in failed: {}", match failure {
        DeviceCodeFailure::Expired => "the code expired before anyone signed in",
        DeviceCodeFailure::Declined => "the user declined the sign-in",
        DeviceCodeFailure::BadCode => "the code was not recognised",
    })]
    DeviceCode { failure: DeviceCodeFailure },

    #[error(
        "received HTML instead of JSON (HTTP {status}) from {url}, likely from a proxy ({request})"
    )]
    HtmlInsteadOfJson {
        status: u16,
        url: String,
        request: RequestIds,
    },

    #[error(
        "the write was accepted but reading the user back shows {found} instead of {expected} ({request})"
    )]
    WriteNotApplied {
        expected: String,
        found: String,
        request: RequestIds,
    },

    #[error("Microsoft Graph answered HTTP {status} {code}: {message} ({request})")]
    Request {
        status: u16,
        code: String,
        message: String,
        request: RequestIds,
    },

    #[error("unexpected response: {reason} ({request})")]
    UnexpectedResponse { reason: String, request: RequestIds },

    #[error("cannot use the certificate `{path}`: {reason}")]
    Certificate { path: String, reason: String },

    #[error("the Azure CLI gave no token: {reason}")]
    AzureCli { reason: String },

    #[error("the TLS certificate of {url} is not trusted: {detail}")]
    TlsUntrusted { url: String, detail: String },

    #[error("invalid settings: {reason}")]
    Configuration { reason: String },
}

impl GraphError {
    /// The user's next step.
    pub fn hint(&self) -> String {
        match self {
            GraphError::Conflict {
                holder_object_id, ..
            } => match holder_object_id {
                Some(id) => format!(
                    "object {id} already holds this value (look in deleted users too): clear it \
                     there, or purge that object, then retry"
                ),
                None => "another user (active or in the recycle bin) holds this value: find it \
                         with `hardmatch` holder lookup, clear or purge it, then retry"
                    .to_owned(),
            },
            GraphError::SyncedObject { .. } => SYNCED_OBJECT_HINT.to_owned(),
            GraphError::NotFound { .. } => "check the id or UPN; a deleted user is only found \
                among deleted users, and only for 30 days"
                .to_owned(),
            GraphError::PermissionDenied { operation, .. } => {
                let mut hint = format!(
                    "grant the app registration the `{}` permission with admin consent",
                    operation.least_permission()
                );
                if let Some(role) = operation.required_role() {
                    hint.push_str(&format!(
                        ", or sign in with --device-code as a user holding {role}"
                    ));
                }
                hint
            }
            GraphError::Throttled { .. } => "Microsoft Graph is throttling this app in this \
                tenant; wait a few minutes and rerun, or run fewer jobs against the tenant at once"
                .to_owned(),
            GraphError::Transient { .. } => "a network or service failure outlasted the \
                retries; rerun, and check https://status.cloud.microsoft if it persists"
                .to_owned(),
            GraphError::Authentication {
                aadsts_code, error, ..
            } => match aadsts_code {
                Some(7_000_215) => "the client secret is wrong: use the secret's value, not its \
                    id"
                .to_owned(),
                Some(7_000_222) => "the client secret has expired: create a new one for the app \
                    registration"
                    .to_owned(),
                Some(700_016) => "no app with this client id in this tenant: check --client-id \
                    and --tenant-id"
                    .to_owned(),
                Some(90_002) => "the tenant was not found: check --tenant-id".to_owned(),
                Some(700_027) | Some(700_024) => "the client assertion was refused: upload \
                    this certificate to the app registration and check the machine's clock"
                    .to_owned(),
                _ if error == "InvalidAuthenticationToken" => "the token was refused: sign in \
                    again (for --azure-cli run `az login`)"
                    .to_owned(),
                _ => "check --tenant-id, --client-id and the credential; the AADSTS code is \
                      explained at https://login.microsoftonline.com/error"
                    .to_owned(),
            },
            GraphError::DeviceCode { failure } => match failure {
                DeviceCodeFailure::Expired => "rerun and enter the code within its lifetime \
                    (15 minutes)"
                    .to_owned(),
                DeviceCodeFailure::Declined => "rerun and accept the sign-in".to_owned(),
                DeviceCodeFailure::BadCode => "rerun and type the code exactly as shown".to_owned(),
            },
            GraphError::HtmlInsteadOfJson { .. } => "a proxy or captive portal answered instead \
                of Microsoft Graph: check HTTPS_PROXY and the proxy's allow list for the Graph \
                and login hosts"
                .to_owned(),
            GraphError::WriteNotApplied { .. } => "re-read the user in a minute (replication \
                delay); if it persists, set the value with Graph PowerShell and report it"
                .to_owned(),
            GraphError::Request { .. } => "this request was refused as shown; check the \
                values, and report it with the request id if they are right"
                .to_owned(),
            GraphError::UnexpectedResponse { .. } => "Microsoft Graph answered in an \
                unexpected shape; report it with the request id"
                .to_owned(),
            GraphError::Certificate { .. } => "use a PEM file holding the certificate and its \
                unencrypted RSA private key, or a PFX with --certificate and its password in \
                AZURE_CLIENT_CERTIFICATE_PASSWORD"
                .to_owned(),
            GraphError::AzureCli { .. } => "install the Azure CLI and run `az login` \
                (`az login --tenant <id>` for another tenant)"
                .to_owned(),
            GraphError::TlsUntrusted { .. } => "pass --graph-ca-cert FILE with the PEM \
                certificate of the CA that issued the server's certificate (the emulator prints \
                its own as `ca-cert PATH`; a TLS-inspecting proxy needs the proxy's CA)"
                .to_owned(),
            GraphError::Configuration { .. } => {
                "correct the value named above: it comes from a flag \
                (see the command's --help), a HARDMATCH_* or AZURE_* environment variable, or the \
                profile in hardmatch.toml"
                    .to_owned()
            }
        }
    }

    /// The request ids, when the error came from an HTTP exchange.
    pub fn request_ids(&self) -> Option<&RequestIds> {
        match self {
            GraphError::Conflict { request, .. }
            | GraphError::SyncedObject { request, .. }
            | GraphError::NotFound { request, .. }
            | GraphError::PermissionDenied { request, .. }
            | GraphError::Throttled { request, .. }
            | GraphError::Transient { request, .. }
            | GraphError::Authentication { request, .. }
            | GraphError::HtmlInsteadOfJson { request, .. }
            | GraphError::WriteNotApplied { request, .. }
            | GraphError::Request { request, .. }
            | GraphError::UnexpectedResponse { request, .. } => Some(request),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, GraphError::NotFound { .. })
    }
}

/// Graph's error envelope: `{"error": {"code", "message", "innerError", "details"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, alias = "innererror", rename = "innerError")]
    inner_error: Option<InnerError>,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct InnerError {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    target: Option<String>,
}

/// A Graph error response, as far as it is needed to classify it.
pub(crate) struct ErrorResponse<'a> {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: &'a [u8],
    pub(crate) url: &'a str,
    pub(crate) operation: Operation,
    /// What was addressed, for not-found messages (an id, a UPN or a path).
    pub(crate) resource: &'a str,
    pub(crate) request: RequestIds,
}

/// Turns a non-success Graph response into a typed error.
pub(crate) fn classify(response: ErrorResponse<'_>) -> GraphError {
    let ErrorResponse {
        status,
        content_type,
        body,
        url,
        operation,
        resource,
        mut request,
    } = response;
    let envelope: ErrorEnvelope = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(_) if looks_like_html(content_type, body) => {
            return GraphError::HtmlInsteadOfJson {
                status,
                url: url.to_owned(),
                request,
            };
        }
        Err(_) => ErrorEnvelope::default(),
    };
    let error = envelope.error.unwrap_or_default();
    if request.request_id.is_none() {
        request.request_id = error.inner_error.and_then(|inner| inner.request_id);
    }
    let message = if error.message.is_empty() {
        String::from_utf8_lossy(body).chars().take(300).collect()
    } else {
        error.message
    };

    if let Some(property) = conflict_property(&message) {
        let holder_object_id = error
            .details
            .iter()
            .find(|detail| detail.code.eq_ignore_ascii_case("ConflictingObjects"))
            .and_then(|detail| detail.target.as_deref())
            .and_then(object_id_after_type_prefix)
            .or_else(|| holder_in_message(&message));
        return GraphError::Conflict {
            property,
            holder_object_id,
            message,
            request,
        };
    }
    if message.contains("on-premises mastered Directory Sync objects")
        || message.contains("originated within an external service")
    {
        return GraphError::SyncedObject { message, request };
    }
    match (status, error.code.as_str()) {
        (404, _) | (_, "Request_ResourceNotFound") | (_, "ResourceNotFound") => {
            GraphError::NotFound {
                resource: resource.to_owned(),
                message,
                request,
            }
        }
        (403, _) | (_, "Authorization_RequestDenied") => GraphError::PermissionDenied {
            operation,
            message,
            request,
        },
        (401, code) => GraphError::Authentication {
            error: if code.is_empty() {
                "Unauthorized".to_owned()
            } else {
                code.to_owned()
            },
            aadsts_code: aadsts_code(&message),
            description: message,
            trace_id: None,
            correlation_id: None,
            request,
        },
        (429, _) => GraphError::Throttled {
            attempts: 1,
            retry_after: None,
            scope: None,
            request,
        },
        (500..=599, _) => GraphError::Transient {
            status: Some(status),
            attempts: 1,
            message,
            request,
        },
        (_, code) => GraphError::Request {
            status,
            code: code.to_owned(),
            message,
            request,
        },
    }
}

pub(crate) fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if content_type.is_some_and(|value| value.to_ascii_lowercase().contains("text/html")) {
        return true;
    }
    let start = String::from_utf8_lossy(&body[..body.len().min(64)])
        .trim_start()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

/// "Another object with the same value for property onPremisesImmutableId already exists."
fn conflict_property(message: &str) -> Option<String> {
    let rest = message
        .split("Another object with the same value for property ")
        .nth(1)?;
    let property: String = rest
        .chars()
        .take_while(|character| character.is_ascii_alphanumeric())
        .collect();
    (!property.is_empty()).then_some(property)
}

/// `User_6ea91a8d-…` → the GUID.
fn object_id_after_type_prefix(target: &str) -> Option<String> {
    let (_, id) = target.trim().split_once('_')?;
    let id: String = id
        .chars()
        .take_while(|character| character.is_ascii_hexdigit() || *character == '-')
        .collect();
    (id.len() == 36).then_some(id)
}

/// `… ConflictingObjects - User_<objectId>` in the message text.
fn holder_in_message(message: &str) -> Option<String> {
    let rest = message.split("ConflictingObjects").nth(1)?;
    let rest = rest.trim_start_matches([' ', '-', ':', '=']);
    object_id_after_type_prefix(rest.split([',', ' ', ';']).next()?)
}

/// "AADSTS7000215: Invalid client secret…" → 7000215.
pub(crate) fn aadsts_code(text: &str) -> Option<u32> {
    let rest = text.split("AADSTS").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_json(status: u16, body: &str, operation: Operation) -> GraphError {
        classify(ErrorResponse {
            status,
            content_type: Some("application/json"),
            body: body.as_bytes(),
            url: "https://graph.microsoft.com/v1.0/users/x",
            operation,
            resource: "x",
            request: RequestIds {
                client_request_id: Some("c1".to_owned()),
                request_id: None,
            },
        })
    }

    #[test]
    fn not_found_sample_from_graph_api_md_section_10() {
        let body = r#"{"error":{"code":"Request_ResourceNotFound",
          "message":"Resource '68be84bf-a585-4776-80b3-30aa5207aa22' does not exist or one of its queried reference-property objects are not present.",
          "innerError":{"date":"2021-04-20T17:22:30","request-id":"f58cc4de-b427-41de-b37c-46ee4925a26d","client-request-id":"c1"}}}"#;
        let error = classify_json(404, body, Operation::ReadUsers);
        assert!(error.is_not_found(), "{error:?}");
        let request = error.request_ids().expect("ids");
        assert_eq!(
            request.request_id.as_deref(),
            Some("f58cc4de-b427-41de-b37c-46ee4925a26d")
        );
        assert!(
            error
                .to_string()
                .contains("f58cc4de-b427-41de-b37c-46ee4925a26d")
        );
    }

    #[test]
    fn conflict_with_details_names_the_holder() {
        let body = r#"{"error":{"code":"Request_BadRequest",
          "message":"Another object with the same value for property onPremisesImmutableId already exists.",
          "details":[{"code":"ObjectConflict","message":"x","target":"onPremisesImmutableId"},
                     {"code":"ConflictingObjects","message":"y","target":"User_6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"}],
          "innerError":{"request-id":"r1"}}}"#;
        match classify_json(400, body, Operation::SetImmutableId) {
            GraphError::Conflict {
                property,
                holder_object_id,
                ..
            } => {
                assert_eq!(property, "onPremisesImmutableId");
                assert_eq!(
                    holder_object_id.as_deref(),
                    Some("6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conflict_in_the_2024_message_form_names_the_holder() {
        let body = r#"{"error":{"code":"Request_BadRequest",
          "message":"Another object with the same value for property immutableId already exists. PropertyName - immutableId, PropertyErrorCode - ObjectConflict, ConflictingObjects - User_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
          "innerError":{"request-id":"r2"}}}"#;
        match classify_json(400, body, Operation::SetImmutableId) {
            GraphError::Conflict {
                property,
                holder_object_id,
                ..
            } => {
                assert_eq!(property, "immutableId");
                assert_eq!(
                    holder_object_id.as_deref(),
                    Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn synced_object_rejections_in_both_wordings() {
        for message in [
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
            "Unable to update the specified properties for objects that have originated within an external service.",
        ] {
            let body =
                format!(r#"{{"error":{{"code":"Request_BadRequest","message":"{message}"}}}}"#);
            let error = classify_json(400, &body, Operation::SetImmutableId);
            assert!(
                matches!(error, GraphError::SyncedObject { .. }),
                "{error:?}"
            );
        }
    }

    #[test]
    fn permission_denied_names_the_least_permission() {
        let body = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#;
        let error = classify_json(403, body, Operation::SetImmutableId);
        assert!(error.to_string().contains("User.ReadWrite.All"), "{error}");
        assert!(error.hint().contains("User.ReadWrite.All"));
        assert!(
            error
                .hint()
                .contains("Privileged Authentication Administrator")
        );
    }

    #[test]
    fn throttled_and_transient_and_bad_token() {
        let throttled = r#"{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2","status":"429"},"message":"Please retry again later."}}"#;
        let error = classify_json(429, throttled, Operation::ReadUsers);
        assert!(matches!(error, GraphError::Throttled { .. }));
        assert!(
            error
                .to_string()
                .contains("94fb3b52-452a-4535-a601-69e0a90e3aa2")
        );
        let error = classify_json(503, "", Operation::ReadUsers);
        assert!(matches!(
            error,
            GraphError::Transient {
                status: Some(503),
                ..
            }
        ));
        let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#;
        let error = classify_json(401, expired, Operation::ReadUsers);
        assert!(matches!(error, GraphError::Authentication { .. }));
        assert!(error.hint().contains("sign in again"));
    }

    #[test]
    fn html_from_a_proxy_is_recognised() {
        let error = classify(ErrorResponse {
            status: 502,
            content_type: Some("text/html; charset=utf-8"),
            body: b"<html><body>Access denied by proxy</body></html>",
            url: "https://graph.microsoft.com/v1.0/users",
            operation: Operation::ReadUsers,
            resource: "users",
            request: RequestIds::default(),
        });
        assert!(matches!(
            error,
            GraphError::HtmlInsteadOfJson { status: 502, .. }
        ));
        assert!(error.hint().contains("proxy"));
    }

    #[test]
    fn aadsts_codes_are_read_from_descriptions() {
        assert_eq!(
            aadsts_code("AADSTS7000215: Invalid client secret provided."),
            Some(7_000_215)
        );
        assert_eq!(aadsts_code("no code"), None);
    }
}
