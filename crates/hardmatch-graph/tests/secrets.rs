//! No secret in logs (trace level), error output, Debug output or snapshots.
//!
//! A test binary of its own: it installs the process-wide log subscriber, which a scoped one
//! in the shared binary could not replace for tests running on other threads.

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use hardmatch_graph::{CredentialSettings, GraphClient, NoProgress, Secret, snapshot_tenant};

use support::{CLIENT_SECRET, Prompts, fixture, fixture_path, settings, start};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_or_token_appears_anywhere_the_user_can_see() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("hardmatch_graph=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber in this binary");

    let mut tenant = fixture();
    tenant.settings.device_code_auto_approve_after_polls = Some(1);
    let emulator = start(tenant).await;
    let mut seen = String::new();

    // Client secret: success, operations, a not-found, a retried chaos-free run.
    let secret_settings = support::secret_settings(&emulator);
    seen.push_str(&format!("{secret_settings:?}"));
    let client = GraphClient::connect(secret_settings)
        .await
        .expect("connects");
    seen.push_str(&format!("{client:?}"));
    let missing = client
        .get_user("nobody@contoso.com")
        .await
        .expect_err("missing");
    seen.push_str(&format!("{missing} {missing:?} {}", missing.hint()));
    let snapshot = snapshot_tenant(&client, &NoProgress)
        .await
        .expect("snapshot");
    seen.push_str(&serde_json::to_string(&snapshot).expect("json"));

    // A wrong secret.
    let wrong = settings(
        &emulator,
        CredentialSettings::ClientSecret(Secret::new("Wr0ng~Secret.Value")),
    );
    let error = GraphClient::connect(wrong).await.expect_err("refused");
    seen.push_str(&format!("{error} {error:?} {}", error.hint()));

    // A certificate with a password, right and wrong.
    let certificate = settings(
        &emulator,
        CredentialSettings::Certificate {
            path: fixture_path("app-aes.pfx"),
            password: Some(Secret::new("fixture-password")),
        },
    );
    seen.push_str(&format!("{certificate:?}"));
    let client = GraphClient::connect(certificate)
        .await
        .expect("certificate");
    client.list_users().await.expect("reads");
    let wrong_password = settings(
        &emulator,
        CredentialSettings::Certificate {
            path: fixture_path("app-aes.pfx"),
            password: Some(Secret::new("Wr0ng-Pfx-Password")),
        },
    );
    let error = GraphClient::connect(wrong_password)
        .await
        .expect_err("refused");
    seen.push_str(&format!("{error} {error:?} {}", error.hint()));

    // Device code (delegated token and refresh token).
    let prompts = Prompts::default();
    let device = settings(
        &emulator,
        CredentialSettings::DeviceCode {
            prompt: prompts.callback(),
        },
    );
    let client = GraphClient::connect(device).await.expect("device code");
    client.sync_settings().await.expect("reads");

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        logs.contains("graph response"),
        "trace logs were captured: {logs}"
    );
    seen.push_str(&logs);
    for forbidden in [
        CLIENT_SECRET,
        "hardmatch-emulator-read-only-secret",
        "Wr0ng~Secret.Value",
        "fixture-password",
        "Wr0ng-Pfx-Password",
        // Every token and client assertion is a JWT, which starts with this.
        "eyJ",
        "Bearer ",
        "client_secret=",
        "client_assertion=",
        // The emulator's refresh tokens.
        "0.emulator.",
    ] {
        assert!(!seen.contains(forbidden), "`{forbidden}` leaked");
    }
    emulator.shutdown().await;
}
