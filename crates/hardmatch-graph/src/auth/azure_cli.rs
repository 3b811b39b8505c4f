//! A token from the signed-in Azure CLI: `az account get-access-token --resource-type
//! ms-graph --output json`, run as a child process (no shell), `--tenant` added when a tenant
//! is named. The CLI picks the cloud it is logged in to.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::error::GraphError;
use crate::secret::Secret;

/// How long `az` may take; it can refresh its own token over the network first.
const AZURE_CLI_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct AzureCliToken {
    #[serde(rename = "accessToken")]
    access_token: Secret,
    /// Seconds since the epoch (Azure CLI 2.54 and later).
    #[serde(default)]
    expires_on: Option<u64>,
}

/// Returns the token and how long it stays valid.
pub(super) async fn token(
    program: &Path,
    tenant: Option<&str>,
) -> Result<(Secret, Duration), GraphError> {
    let mut command = tokio::process::Command::new(program);
    command.args([
        "account",
        "get-access-token",
        "--resource-type",
        "ms-graph",
        "--output",
        "json",
    ]);
    if let Some(tenant) = tenant {
        command.args(["--tenant", tenant]);
    }
    command.kill_on_drop(true);
    command.stdin(std::process::Stdio::null());
    let output = tokio::time::timeout(AZURE_CLI_TIMEOUT, command.output())
        .await
        .map_err(|_| GraphError::AzureCli {
            reason: format!(
                "`{}` did not answer within {} s",
                program.display(),
                AZURE_CLI_TIMEOUT.as_secs()
            ),
        })?
        .map_err(|error| GraphError::AzureCli {
            reason: if error.kind() == std::io::ErrorKind::NotFound {
                format!("`{}` was not found", program.display())
            } else {
                format!("cannot run `{}`: {error}", program.display())
            },
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(GraphError::AzureCli {
            reason: format!(
                "`az account get-access-token` failed ({}): {}",
                output.status,
                stderr.trim().lines().next().unwrap_or("no message")
            ),
        });
    }
    let parsed: AzureCliToken =
        serde_json::from_slice(&output.stdout).map_err(|error| GraphError::AzureCli {
            reason: format!("unexpected output of `az account get-access-token`: {error}"),
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Without an expiry the token is used for five minutes and then fetched again.
    let lifetime = parsed
        .expires_on
        .map(|expires_on| Duration::from_secs(expires_on.saturating_sub(now)))
        .unwrap_or(Duration::from_secs(300));
    Ok((parsed.access_token, lifetime))
}
