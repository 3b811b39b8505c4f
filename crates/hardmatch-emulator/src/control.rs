//! The emulator's own endpoints under `/_emulator/`, for tests and rehearsals: dump the
//! state, list the requests served, run a sync cycle, decide device codes. Never part of
//! what a Graph client sees.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::state::{Emulator, lock, user_id};
use crate::sync::SyncRequest;
use crate::token::device_code::DeviceCodeState;
use crate::wire::{ApiRequest, ApiResponse};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceCodeDecision {
    user_code: String,
    /// UPN or id of the user who signs in.
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    decline: bool,
}

fn problem(status: StatusCode, message: &str) -> ApiResponse {
    ApiResponse::plain_json(status, &json!({"error": message}))
}

pub(crate) fn handle(emulator: &Emulator, request: &ApiRequest, path: &str) -> ApiResponse {
    match (&request.method, path.trim_end_matches('/')) {
        (&Method::GET, "state") => ApiResponse::plain_json(StatusCode::OK, &state_json(emulator)),
        (&Method::GET, "requests") => {
            let requests = lock(&emulator.requests).clone();
            ApiResponse::plain_json(StatusCode::OK, &json!({"requests": requests}))
        }
        (&Method::DELETE, "requests") => {
            lock(&emulator.requests).clear();
            ApiResponse::new(StatusCode::NO_CONTENT)
        }
        (&Method::POST, "sync") => {
            let sync_request: SyncRequest = if request.body.is_empty() {
                SyncRequest::default()
            } else {
                match serde_json::from_slice(&request.body) {
                    Ok(parsed) => parsed,
                    Err(error) => return problem(StatusCode::BAD_REQUEST, &error.to_string()),
                }
            };
            match run_sync(emulator, sync_request) {
                Ok(report) => ApiResponse::plain_json(StatusCode::OK, &report),
                Err(error) => problem(StatusCode::BAD_REQUEST, &error.to_string()),
            }
        }
        (&Method::POST, "devicecode/approve") => {
            let decision: DeviceCodeDecision = match serde_json::from_slice(&request.body) {
                Ok(parsed) => parsed,
                Err(error) => return problem(StatusCode::BAD_REQUEST, &error.to_string()),
            };
            let state = if decision.decline {
                DeviceCodeState::Declined
            } else {
                let fixture = emulator.tenant();
                let key = decision.user.unwrap_or_default();
                match fixture.find_active_user(&key) {
                    Some(index) => DeviceCodeState::Approved {
                        user_id: user_id(&fixture.users[index]).to_owned(),
                    },
                    None => return problem(StatusCode::NOT_FOUND, "no active user with that UPN or id"),
                }
            };
            if lock(&emulator.device_codes).decide(&decision.user_code, state) {
                ApiResponse::new(StatusCode::NO_CONTENT)
            } else {
                problem(StatusCode::NOT_FOUND, "no pending device code with that user code")
            }
        }
        (&Method::GET, "devicelogin") => ApiResponse::text(
            StatusCode::OK,
            "hardmatch emulator: approve a device code with POST /_emulator/devicecode/approve {\"user_code\": \"…\", \"user\": \"upn\"}\n".to_owned(),
        ),
        _ => problem(StatusCode::NOT_FOUND, "unknown emulator endpoint"),
    }
}

pub(crate) fn state_json(emulator: &Emulator) -> serde_json::Value {
    serde_json::to_value(&**emulator.tenant()).unwrap_or_default()
}

pub(crate) fn run_sync(
    emulator: &Emulator,
    request: SyncRequest,
) -> Result<serde_json::Value, crate::EmulatorError> {
    let now = emulator.clock.now();
    let mut fixture = emulator.tenant();
    crate::sync::run(&mut fixture, request, emulator.ad_snapshot.as_ref(), now)
}
