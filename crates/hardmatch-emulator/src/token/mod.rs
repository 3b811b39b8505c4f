//! The identity platform v2.0 endpoints (graph-api.md §2): the token endpoint for client
//! credentials (secret, form or HTTP Basic, and certificate assertions) and the device-code
//! grant, the device-code endpoint, OpenID Connect discovery, instance discovery and the
//! signing keys. Errors use the AADSTS JSON shape with trace and correlation ids.

pub(crate) mod assertion;
pub(crate) mod device_code;
pub(crate) mod jwt;

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};

use crate::clock::{aadsts_timestamp, unix_seconds};
use crate::fixture::{AppRegistration, Fixture};
use crate::graph::auth::GRAPH_AUDIENCE;
use crate::state::{Emulator, Tenant, is_global_administrator, lock, string_property, user_id};
use crate::wire::{ApiRequest, ApiResponse, query_pairs};
use assertion::AssertionError;
use device_code::{DeviceCode, DeviceCodeState, PollOutcome};

const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Scopes that ask for tokens, not Graph permissions.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// An AADSTS error response.
fn aadsts(
    emulator: &Emulator,
    request: &ApiRequest,
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
) -> ApiResponse {
    let now = emulator.clock.now();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = request
        .header("client-request-id")
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let timestamp = aadsts_timestamp(now);
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ).replacen(" Trace ID:", "\r\nTrace ID:", 1)
            .replacen(" Correlation ID:", "\r\nCorrelation ID:", 1)
            .replacen(" Timestamp:", "\r\nTimestamp:", 1),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("{}/error?code={code}", emulator.base_url),
    });
    let mut response = ApiResponse::plain_json(status, &body);
    response.set_header("cache-control", "no-store, no-cache");
    response
}

/// Whether a `{tenant}` path segment names this tenant (id or a verified domain), or is
/// one of the multi-tenant aliases when `aliases_allowed`.
fn tenant_matches(fixture: &Fixture, segment: &str, aliases_allowed: bool) -> bool {
    segment.eq_ignore_ascii_case(&fixture.tenant.id)
        || segment.eq_ignore_ascii_case(&fixture.tenant.initial_domain)
        || fixture
            .tenant
            .domains
            .iter()
            .any(|domain| domain.is_verified && domain.id.eq_ignore_ascii_case(segment))
        || (aliases_allowed
            && ["common", "organizations"]
                .iter()
                .any(|alias| alias.eq_ignore_ascii_case(segment)))
}

fn tenant_not_found(emulator: &Emulator, request: &ApiRequest, segment: &str) -> ApiResponse {
    aadsts(
        emulator,
        request,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

fn app_not_found(
    emulator: &Emulator,
    request: &ApiRequest,
    client_id: &str,
    tenant: &str,
) -> ApiResponse {
    aadsts(
        emulator,
        request,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// Form fields, plus HTTP Basic client credentials when present.
fn form(request: &ApiRequest) -> Vec<(String, String)> {
    let mut fields = query_pairs(std::str::from_utf8(&request.body).unwrap_or_default());
    if let Some(basic) = request.header("authorization").and_then(|value| {
        value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))
    }) && let Some((id, secret)) = STANDARD
        .decode(basic.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        })
    {
        // RFC 6749 §2.3.1: both parts are form-urlencoded inside Basic.
        fields.push((
            "client_id".into(),
            crate::wire::percent_decode(&id.replace('+', " ")),
        ));
        fields.push((
            "client_secret".into(),
            crate::wire::percent_decode(&secret.replace('+', " ")),
        ));
    }
    fields
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(
    emulator: &Emulator,
    request: &ApiRequest,
    tenant_segment: &str,
) -> ApiResponse {
    let fields = form(request);
    let grant_type = field(&fields, "grant_type").unwrap_or_default();
    let fixture = emulator.tenant().clone();
    let aliases = grant_type == DEVICE_CODE_GRANT;
    if !tenant_matches(&fixture, tenant_segment, aliases) {
        return tenant_not_found(emulator, request, tenant_segment);
    }
    let Some(client_id) = field(&fields, "client_id") else {
        return aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(app) = fixture
        .apps
        .iter()
        .find(|app| app.client_id.eq_ignore_ascii_case(client_id))
    else {
        return app_not_found(emulator, request, client_id, tenant_segment);
    };
    match grant_type {
        "client_credentials" => {
            client_credentials(emulator, request, &fixture, app, &fields, tenant_segment)
        }
        DEVICE_CODE_GRANT => device_code_grant(emulator, request, &fixture, app, &fields),
        "" => aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn client_credentials(
    emulator: &Emulator,
    request: &ApiRequest,
    fixture: &Fixture,
    app: &AppRegistration,
    fields: &[(String, String)],
    tenant_segment: &str,
) -> ApiResponse {
    let scope = field(fields, "scope").unwrap_or_default().trim();
    // graph-api.md §2: client credentials need `{resource}/.default`, one resource.
    if scope.split_whitespace().count() != 1 || !scope.ends_with("/.default") {
        return aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let resource = scope.trim_end_matches("/.default").trim_end_matches('/');
    if !(resource.eq_ignore_ascii_case(GRAPH_AUDIENCE)
        || resource.eq_ignore_ascii_case(GRAPH_APP_ID))
    {
        return aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                fixture
                    .tenant
                    .display_name
                    .as_deref()
                    .unwrap_or(&fixture.tenant.id)
            ),
        );
    }
    let now = emulator.clock.now();
    if let Some(secret) = field(fields, "client_secret") {
        if app.client_secret.as_deref() != Some(secret) {
            return aadsts(
                emulator,
                request,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            );
        }
    } else if let Some(client_assertion) = field(fields, "client_assertion") {
        if field(fields, "client_assertion_type") != Some(JWT_BEARER) {
            return aadsts(
                emulator,
                request,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                7000219,
                "'client_assertion' or 'client_secret' required.",
            );
        }
        let endpoint = |tenant: &str| format!("{}/{tenant}/oauth2/v2.0/token", emulator.base_url);
        let audiences = vec![
            endpoint(tenant_segment),
            endpoint(&fixture.tenant.id),
            format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                fixture.tenant.id
            ),
            format!("https://login.microsoftonline.com/{tenant_segment}/oauth2/v2.0/token"),
        ];
        if let Err(error) = assertion::verify(
            client_assertion,
            &app.client_id,
            app.certificate_pem.as_deref(),
            &audiences,
            now,
        ) {
            let (code, description) = match error {
                AssertionError::Malformed => {
                    (50027, "JWT token is invalid or malformed.".to_owned())
                }
                AssertionError::Signature(reason) => (
                    700027,
                    format!("Client assertion failed signature validation. [Reason - {reason}]"),
                ),
                AssertionError::Lifetime => (
                    700024,
                    "Client assertion is not within its valid time range.".to_owned(),
                ),
                AssertionError::Claims(reason) => (
                    700023,
                    format!("Client assertion audience or issuer is invalid. {reason}"),
                ),
            };
            return aadsts(
                emulator,
                request,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                &description,
            );
        }
    } else {
        return aadsts(
            emulator,
            request,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let claims = access_token_claims(fixture, app, now, None);
    issue(emulator, request, fixture, &claims, None)
}

/// Claims of a Graph access token: app-only (`roles`) or delegated (`scp`).
fn access_token_claims(
    fixture: &Fixture,
    app: &AppRegistration,
    now: SystemTime,
    delegated: Option<(&serde_json::Map<String, Value>, &[String])>,
) -> Value {
    let issued = unix_seconds(now);
    let lifetime = i64::try_from(fixture.settings.access_token_lifetime_seconds).unwrap_or(3599);
    let mut claims = json!({
        "aud": GRAPH_AUDIENCE,
        "iss": format!("https://sts.windows.net/{}/", fixture.tenant.id),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "appid": app.client_id,
        "app_displayname": app.display_name,
        "tid": fixture.tenant.id,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    match delegated {
        None => {
            claims["idtyp"] = json!("app");
            claims["roles"] = json!(app.application_permissions);
            claims["oid"] = json!(service_principal_id(&app.client_id));
            claims["sub"] = json!(service_principal_id(&app.client_id));
        }
        Some((user, scopes)) => {
            claims["idtyp"] = json!("user");
            claims["scp"] = json!(scopes.join(" "));
            claims["oid"] = json!(user_id(user));
            claims["sub"] = json!(user_id(user));
            claims["upn"] = json!(string_property(user, "userPrincipalName"));
            claims["name"] = json!(string_property(user, "displayName"));
        }
    }
    claims
}

/// A stable service-principal object id derived from the app id.
fn service_principal_id(client_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, client_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn issue(
    emulator: &Emulator,
    request: &ApiRequest,
    fixture: &Fixture,
    claims: &Value,
    extra: Option<Value>,
) -> ApiResponse {
    let token = match emulator.signer.sign(claims) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(%error, "cannot sign an access token");
            return aadsts(
                emulator,
                request,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                50000,
                "There was an error issuing a token.",
            );
        }
    };
    let lifetime = fixture.settings.access_token_lifetime_seconds;
    let mut body = json!({"token_type": "Bearer", "expires_in": lifetime});
    // graph-api.md §16 #13.
    if fixture.settings.token_ext_expires_in {
        body["ext_expires_in"] = json!(lifetime);
    }
    if let Some(Value::Object(extra)) = extra {
        for (key, value) in extra {
            body[key] = value;
        }
    }
    body["access_token"] = json!(token);
    let mut response = ApiResponse::plain_json(StatusCode::OK, &body);
    response.set_header("cache-control", "no-store, no-cache");
    response
}

/// Graph permission names in a scope string: `https://graph.microsoft.com/User.Read.All`
/// → `User.Read.All`; OIDC scopes are returned separately.
fn split_scopes(scope: &str) -> (Vec<String>, Vec<String>) {
    let mut permissions = Vec::new();
    let mut oidc = Vec::new();
    for item in scope.split_whitespace() {
        let name = item
            .strip_prefix("https://graph.microsoft.com/")
            .or_else(|| item.strip_prefix("00000003-0000-0000-c000-000000000000/"))
            .unwrap_or(item);
        if OIDC_SCOPES.contains(&name) {
            oidc.push(name.to_owned());
        } else if name == ".default" {
            continue;
        } else {
            permissions.push(name.to_owned());
        }
    }
    (permissions, oidc)
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) fn device_code(
    emulator: &Emulator,
    request: &ApiRequest,
    tenant_segment: &str,
) -> ApiResponse {
    let fields = form(request);
    let fixture = emulator.tenant().clone();
    if !tenant_matches(&fixture, tenant_segment, true) {
        return tenant_not_found(emulator, request, tenant_segment);
    }
    let client_id = field(&fields, "client_id").unwrap_or_default();
    let Some(app) = fixture
        .apps
        .iter()
        .find(|app| app.client_id.eq_ignore_ascii_case(client_id))
    else {
        return app_not_found(emulator, request, client_id, tenant_segment);
    };
    let scope = field(&fields, "scope").unwrap_or_default().to_owned();
    let (mut permissions, oidc) = split_scopes(&scope);
    if scope.contains("/.default") {
        permissions = app.delegated_permissions.clone();
    }
    permissions.retain(|permission| !OIDC_SCOPES.contains(&permission.as_str()));
    if let Some(missing) = permissions.iter().find(|permission| {
        !app.delegated_permissions
            .iter()
            .any(|granted| granted.eq_ignore_ascii_case(permission))
    }) {
        tracing::debug!(%missing, "device code asks for a delegated permission the app lacks");
        return aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
                app.client_id,
                app.display_name.as_deref().unwrap_or_default()
            ),
        );
    }
    let now = emulator.clock.now();
    let expires_in = fixture.settings.device_code_expires_in_seconds;
    let interval = fixture.settings.device_code_interval_seconds;
    let device_code = format!("DAQABAAEAAAD{}", uuid::Uuid::new_v4().simple());
    let user_code: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(9)
        .collect();
    let mut scopes = permissions;
    scopes.extend(oidc);
    lock(&emulator.device_codes).insert(DeviceCode {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        client_id: app.client_id.clone(),
        scopes,
        expires: now + Duration::from_secs(expires_in),
        interval: Duration::from_secs(interval),
        last_poll: None,
        polls: 0,
        state: DeviceCodeState::Pending,
    });
    let verification_uri = format!("{}/_emulator/devicelogin", emulator.base_url);
    ApiResponse::plain_json(
        StatusCode::OK,
        &json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": expires_in,
            "interval": interval,
            "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

/// The user an auto-approved device code signs in (settings, else a Global
/// Administrator, else the first active user).
fn auto_approve_user(fixture: &Tenant) -> Option<String> {
    if let Some(configured) = &fixture.settings.device_code_auto_approve_user {
        return fixture
            .find_active_user(configured)
            .map(|index| user_id(&fixture.users[index]).to_owned());
    }
    let active = || {
        fixture
            .users
            .iter()
            .filter(|user| !crate::state::is_deleted(user))
    };
    active()
        .find(|user| is_global_administrator(fixture, user_id(user)))
        .or_else(|| active().next())
        .map(|user| user_id(user).to_owned())
}

fn device_code_grant(
    emulator: &Emulator,
    request: &ApiRequest,
    fixture: &Tenant,
    app: &AppRegistration,
    fields: &[(String, String)],
) -> ApiResponse {
    let now = emulator.clock.now();
    let device_code = field(fields, "device_code").unwrap_or_default();
    let auto = fixture
        .settings
        .device_code_auto_approve_after_polls
        .and_then(|after| auto_approve_user(fixture).map(|user| (after, user)));
    let outcome = lock(&emulator.device_codes).poll(device_code, &app.client_id, now, auto);
    let bad = |error: &str, code: u32, description: &str| {
        aadsts(
            emulator,
            request,
            StatusCode::BAD_REQUEST,
            error,
            code,
            description,
        )
    };
    match outcome {
        PollOutcome::Unknown | PollOutcome::ClientMismatch => bad(
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        ),
        PollOutcome::Expired => bad("expired_token", 70019, "Verification code expired."),
        PollOutcome::Pending => bad(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        PollOutcome::SlowDown => bad(
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Polling too fast: wait the interval between polls.",
        ),
        PollOutcome::Declined => bad(
            "authorization_declined",
            70000,
            "The user denied the authorization request.",
        ),
        PollOutcome::AlreadyRedeemed => bad(
            "invalid_grant",
            70000,
            "The provided value for the 'device_code' is not valid. It has already been redeemed.",
        ),
        PollOutcome::Approved {
            user_id: approved,
            scopes,
        } => {
            let Some(index) = fixture.find_active_user(&approved) else {
                return bad(
                    "invalid_grant",
                    50034,
                    "The user account does not exist in the directory.",
                );
            };
            let user = &fixture.users[index];
            let (permissions, oidc): (Vec<String>, Vec<String>) = scopes
                .into_iter()
                .partition(|scope| !OIDC_SCOPES.contains(&scope.as_str()));
            let claims = access_token_claims(fixture, app, now, Some((user, &permissions)));
            let mut extra = json!({"scope": permissions.iter().map(|permission| format!("https://graph.microsoft.com/{permission}")).chain(oidc.iter().cloned()).collect::<Vec<_>>().join(" ")});
            if oidc.iter().any(|scope| scope == "offline_access") {
                extra["refresh_token"] =
                    json!(format!("0.emulator.{}", uuid::Uuid::new_v4().simple()));
            }
            if oidc.iter().any(|scope| scope == "openid") {
                let issued = unix_seconds(now);
                let id_claims = json!({
                    "aud": app.client_id,
                    "iss": format!("{}/{}/v2.0", emulator.base_url, fixture.tenant.id),
                    "iat": issued,
                    "nbf": issued,
                    "exp": issued + 3600,
                    "oid": user_id(user),
                    "sub": user_id(user),
                    "tid": fixture.tenant.id,
                    "preferred_username": string_property(user, "userPrincipalName"),
                    "name": string_property(user, "displayName"),
                    "ver": "2.0",
                });
                if let Ok(id_token) = emulator.signer.sign(&id_claims) {
                    extra["id_token"] = json!(id_token);
                }
            }
            issue(emulator, request, fixture, &claims, Some(extra))
        }
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) fn openid_configuration(
    emulator: &Emulator,
    request: &ApiRequest,
    tenant_segment: &str,
) -> ApiResponse {
    let fixture = emulator.tenant();
    if !tenant_matches(&fixture, tenant_segment, true) {
        drop(fixture);
        return tenant_not_found(emulator, request, tenant_segment);
    }
    let base = &emulator.base_url;
    let tenant_id = &fixture.tenant.id;
    let host = base.split("://").nth(1).unwrap_or(base);
    ApiResponse::plain_json(
        StatusCode::OK,
        &json!({
            "token_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{tenant_segment}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/{tenant_id}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "authorization_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/{tenant_segment}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "preferred_username", "tid", "ver"],
            "kerberos_endpoint": format!("{base}/{tenant_segment}/kerberos"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": host,
            "cloud_graph_host_name": host,
            "msgraph_host": host,
            "rbac_url": base,
        }),
    )
}

/// `GET /common/discovery/instance`: MSAL's instance discovery, answered for this host.
pub(crate) fn instance_discovery(emulator: &Emulator) -> ApiResponse {
    let base = &emulator.base_url;
    let host = base.split("://").nth(1).unwrap_or(base);
    ApiResponse::plain_json(
        StatusCode::OK,
        &json!({
            "tenant_discovery_endpoint": format!("{base}/common/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }),
    )
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) fn keys(emulator: &Emulator) -> ApiResponse {
    ApiResponse::plain_json(StatusCode::OK, &emulator.signer.jwks())
}
