//! Starting emulators and building settings for them.

use std::sync::{Arc, Mutex};

use hardmatch_emulator::{EmulatorOptions, Fixture, RunningEmulator};
use hardmatch_graph::{CredentialSettings, GraphSettings, RetryPolicy, Secret};
use serde_json::Value;

/// The example fixture's full-permission app.
pub(crate) const CLIENT_ID: &str = "8a9f2c1e-4b3d-4e5f-9a6b-7c8d9e0f1a2b";
pub(crate) const CLIENT_SECRET: &str = "hardmatch-emulator-secret";
/// The example fixture's app with only `User.Read.All`.
pub(crate) const READ_ONLY_CLIENT_ID: &str = "3b4c5d6e-7f80-4a1b-9c2d-3e4f5a6b7c8d";
pub(crate) const READ_ONLY_CLIENT_SECRET: &str = "hardmatch-emulator-read-only-secret";

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub(crate) fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(FIXTURES).join(name)
}

/// The example tenant, with this crate's test certificate registered on the main app and
/// throttling off (tests of throttling switch it on).
pub(crate) fn fixture() -> Fixture {
    let mut fixture = Fixture::example();
    let certificate = std::fs::read_to_string(fixture_path("cert.pem")).expect("test certificate");
    for app in &mut fixture.apps {
        if app.client_id == CLIENT_ID {
            app.certificate_pem = Some(certificate.clone());
        }
    }
    fixture.settings.throttling_enabled = false;
    fixture
}

pub(crate) async fn start(fixture: Fixture) -> RunningEmulator {
    start_with(EmulatorOptions::new(fixture)).await
}

pub(crate) async fn start_with(options: EmulatorOptions) -> RunningEmulator {
    // reqwest is built without a default crypto provider (the client brings its own); the
    // test's control requests use the process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    hardmatch_emulator::start(options)
        .await
        .expect("emulator starts")
}

/// Settings for the emulator, retries without delays.
pub(crate) fn settings(
    emulator: &RunningEmulator,
    credential: CredentialSettings,
) -> GraphSettings {
    let mut settings = GraphSettings::new(credential);
    settings.tenant_id = Some(emulator.tenant_id());
    settings.client_id = Some(CLIENT_ID.to_owned());
    settings.authority_url = Some(emulator.authority_url());
    settings.graph_url = Some(emulator.graph_url());
    settings.http.retry = RetryPolicy::default().without_delays();
    settings
}

pub(crate) fn secret_settings(emulator: &RunningEmulator) -> GraphSettings {
    settings(
        emulator,
        CredentialSettings::ClientSecret(Secret::new(CLIENT_SECRET)),
    )
}

pub(crate) async fn client(emulator: &RunningEmulator) -> hardmatch_graph::GraphClient {
    hardmatch_graph::GraphClient::connect(secret_settings(emulator))
        .await
        .expect("connects")
}

/// The requests the emulator served: `(method, path, query, status)`.
pub(crate) fn served(emulator: &RunningEmulator) -> Vec<(String, String, String, u64)> {
    let log = emulator.requests_json();
    let entries = log
        .get("requests")
        .unwrap_or(&log)
        .as_array()
        .cloned()
        .unwrap_or_default();
    entries
        .iter()
        .map(|entry| {
            let text = |name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                text("method"),
                text("path"),
                text("query"),
                entry
                    .get("status")
                    .and_then(Value::as_u64)
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// A plain HTTP client for the emulator's control endpoints.
pub(crate) fn control_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Collects device-code prompts.
#[derive(Clone, Default)]
pub(crate) struct Prompts(pub Arc<Mutex<Vec<hardmatch_graph::DeviceCodeMessage>>>);

impl Prompts {
    pub(crate) fn callback(&self) -> hardmatch_graph::DeviceCodePrompt {
        let store = self.0.clone();
        hardmatch_graph::DeviceCodePrompt::new(move |message| {
            store.lock().expect("lock").push(message.clone());
        })
    }

    pub(crate) fn all(&self) -> Vec<hardmatch_graph::DeviceCodeMessage> {
        self.0.lock().expect("lock").clone()
    }
}
