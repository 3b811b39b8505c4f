//! The device-code flow (RFC 8628 as Entra ID implements it): show Microsoft's message,
//! then poll the token endpoint at the given interval.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{TokenEndpointError, TokenResponse, post_form};
use crate::error::{DeviceCodeFailure, GraphError};
use crate::http::Transport;
use crate::settings::{DeviceCodeMessage, DeviceCodePrompt};

#[derive(Debug, Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default = "default_expiry", deserialize_with = "super::number_or_text")]
    expires_in: u64,
    #[serde(
        default = "default_interval",
        deserialize_with = "super::number_or_text"
    )]
    interval: u64,
    #[serde(default)]
    message: String,
}

fn default_expiry() -> u64 {
    900
}

fn default_interval() -> u64 {
    5
}

/// `slow_down` asks for this much more between polls (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

pub(super) async fn sign_in(
    transport: &Transport,
    devicecode_url: &str,
    token_url: &str,
    client_id: &str,
    scope: &str,
    prompt: &DeviceCodePrompt,
) -> Result<TokenResponse, GraphError> {
    let start: DeviceCodeResponse = super::post_form_json(
        transport,
        devicecode_url,
        &[("client_id", client_id), ("scope", scope)],
    )
    .await?;
    let message = if start.message.is_empty() {
        format!(
            "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
            start.verification_uri, start.user_code
        )
    } else {
        start.message.clone()
    };
    prompt.show(&DeviceCodeMessage {
        message,
        user_code: start.user_code.clone(),
        verification_uri: start.verification_uri.clone(),
        expires_in: Duration::from_secs(start.expires_in),
    });
    let deadline = Instant::now() + Duration::from_secs(start.expires_in);
    let mut interval = Duration::from_secs(start.interval.max(1));
    loop {
        // The test switch shortens polling too, but keeps a pause so a test does not spin.
        let pause = if transport.retry.delays {
            interval
        } else {
            Duration::from_millis(20)
        };
        tokio::time::sleep(pause).await;
        let fields = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", start.device_code.as_str()),
        ];
        match post_form(transport, token_url, &fields).await {
            Ok(token) => return Ok(token),
            Err(TokenEndpointError::OAuth(error)) => match error.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += SLOW_DOWN_STEP,
                "expired_token" | "code_expired" => {
                    return Err(GraphError::DeviceCode {
                        failure: DeviceCodeFailure::Expired,
                    });
                }
                "authorization_declined" | "access_denied" => {
                    return Err(GraphError::DeviceCode {
                        failure: DeviceCodeFailure::Declined,
                    });
                }
                "bad_verification_code" => {
                    return Err(GraphError::DeviceCode {
                        failure: DeviceCodeFailure::BadCode,
                    });
                }
                _ => return Err(error.into_graph_error()),
            },
            Err(TokenEndpointError::Other(error)) => return Err(error),
        }
        if Instant::now() >= deadline {
            return Err(GraphError::DeviceCode {
                failure: DeviceCodeFailure::Expired,
            });
        }
    }
}
