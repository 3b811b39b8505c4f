//! Who is calling Graph: the bearer token is verified against the emulator's own key and
//! its lifetime checked against the injected clock, so the 401 paths are real; the
//! permissions it carries decide the 403 paths (graph-api.md §10, §14).

use std::time::SystemTime;

use serde_json::Value;

use crate::clock::unix_seconds;
use crate::state::Emulator;
use crate::token::jwt::TokenRejection;
use crate::wire::{ApiRequest, GraphError};

/// The audience of Graph access tokens.
pub(crate) const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

/// The caller of a Graph request.
#[derive(Clone, Debug)]
pub(crate) enum Principal {
    /// App-only (client credentials): permissions are `roles`.
    Application {
        app_id: String,
        roles: Vec<String>,
        directory_roles: Vec<String>,
    },
    /// Delegated (device code): permissions are `scp`, limited by the user's roles.
    User {
        app_id: String,
        user_id: String,
        scopes: Vec<String>,
    },
}

impl Principal {
    pub(crate) fn app_id(&self) -> &str {
        match self {
            Self::Application { app_id, .. } | Self::User { app_id, .. } => app_id,
        }
    }

    pub(crate) fn is_app_only(&self) -> bool {
        matches!(self, Self::Application { .. })
    }

    /// Whether the token carries any of these permissions (application or delegated,
    /// depending on the token kind).
    pub(crate) fn has_any(&self, application: &[&str], delegated: &[&str]) -> bool {
        let (granted, wanted) = match self {
            Self::Application { roles, .. } => (roles, application),
            Self::User { scopes, .. } => (scopes, delegated),
        };
        granted.iter().any(|permission| {
            wanted
                .iter()
                .any(|want| want.eq_ignore_ascii_case(permission))
        })
    }

    /// 403 unless the token carries one of these permissions.
    pub(crate) fn require(
        &self,
        application: &[&str],
        delegated: &[&str],
    ) -> Result<(), GraphError> {
        if self.has_any(application, delegated) {
            Ok(())
        } else {
            Err(GraphError::forbidden())
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Reads and verifies the bearer token of a Graph request.
pub(crate) fn authenticate(
    emulator: &Emulator,
    request: &ApiRequest,
    now: SystemTime,
) -> Result<Principal, GraphError> {
    let header = request.header("authorization").unwrap_or_default().trim();
    let token = match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => "",
        None if header.eq_ignore_ascii_case("bearer") => "",
        None => header,
    };
    if token.is_empty() {
        return Err(GraphError::unauthorized("Access token is empty."));
    }
    let claims = emulator
        .signer
        .verify(token)
        .map_err(|rejection| match rejection {
            TokenRejection::Malformed => {
                GraphError::unauthorized("CompactToken parsing failed with error code: 80049217")
            }
            TokenRejection::BadSignature => {
                GraphError::unauthorized("Access token validation failure. Invalid signature.")
            }
        })?;
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    if unix_seconds(now) >= expires {
        return Err(GraphError::unauthorized(
            emulator.tenant().settings.expired_token_message.clone(),
        ));
    }
    if claims.get("aud").and_then(Value::as_str) != Some(GRAPH_AUDIENCE) {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let tenant_id = emulator.tenant().tenant.id.clone();
    if claims.get("tid").and_then(Value::as_str) != Some(tenant_id.as_str()) {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let app_id = claims
        .get("appid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if claims.get("idtyp").and_then(Value::as_str) == Some("user") {
        Ok(Principal::User {
            app_id,
            user_id: claims
                .get("oid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            scopes: strings(claims.get("scp")),
        })
    } else {
        let directory_roles = emulator
            .tenant()
            .apps
            .iter()
            .find(|app| app.client_id.eq_ignore_ascii_case(&app_id))
            .map(|app| app.directory_roles.clone())
            .unwrap_or_default();
        Ok(Principal::Application {
            app_id,
            roles: strings(claims.get("roles")),
            directory_roles,
        })
    }
}
