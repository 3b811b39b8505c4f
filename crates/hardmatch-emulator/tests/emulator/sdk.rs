//! Microsoft's own Python Graph SDK (msgraph-sdk + azure-identity) against the emulator
//! over TLS, through the project's harness `tests/graph-sdk/conformance.py`. Runs when
//! `HARDMATCH_GRAPH_SDK_PYTHON` names a Python with those packages (see
//! `scripts/graph-sdk-venv`); otherwise prints a visible notice and passes.

use std::path::PathBuf;

use hardmatch_emulator::{EmulatorOptions, Fixture, TlsMode, start};

use crate::common::*;

#[tokio::test]
async fn the_python_graph_sdk_runs_its_conformance_script_against_the_emulator() {
    let Ok(python) = std::env::var("HARDMATCH_GRAPH_SDK_PYTHON") else {
        println!("NOTICE: Graph SDK conformance skipped: HARDMATCH_GRAPH_SDK_PYTHON is not set");
        return;
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/graph-sdk/conformance.py");
    let mut options = EmulatorOptions::new(Fixture::example());
    options.tls = TlsMode::SelfSigned;
    let emulator = start(options).await.unwrap();
    let directory =
        std::env::temp_dir().join(format!("hardmatch-emulator-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ca_path = directory.join("ca.pem");
    std::fs::write(&ca_path, emulator.ca_certificate_pem().unwrap()).unwrap();
    let authority_host = emulator
        .base_url()
        .trim_start_matches("https://")
        .to_owned();
    let graph_url = emulator.graph_url();
    let certificate = ca_path.clone();
    // The script blocks; run it off the runtime so the emulator keeps serving.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(&script)
            .env("HARDMATCH_GRAPH_URL", graph_url)
            .env("HARDMATCH_AUTHORITY_HOST", &authority_host)
            .env("HARDMATCH_TENANT_ID", TENANT_ID)
            .env("HARDMATCH_CLIENT_ID", APP_ID)
            .env("HARDMATCH_CLIENT_SECRET", APP_SECRET)
            .env("SSL_CERT_FILE", &certificate)
            .env("REQUESTS_CA_BUNDLE", &certificate)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let observed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    // Paging with $select, small pages: every active user once, over several pages.
    assert_eq!(
        observed["listed_user_ids"].as_array().unwrap().len(),
        8,
        "{observed}"
    );
    assert!(observed["pages"].as_u64().unwrap() > 1);
    // PATCH and read back; the second holder is refused with the conflict (graph-api.md §10).
    assert_eq!(
        observed["patched_value_read_back"],
        "c2RrLWNvbmZvcm1hbmNlLTE="
    );
    assert_eq!(observed["conflict"]["status"], 400);
    assert_eq!(observed["conflict"]["code"], "Request_BadRequest");
    // Delete, list deleted, purge.
    assert_eq!(observed["deleted_listed"], true);
    assert_eq!(observed["purged_still_listed"], false);
    assert_eq!(observed["purged_get"]["status"], 404);
    // The batch reads the patched user and the first user by UPN; in the example tenant
    // that is adele.vance@contoso.com, the user the script deleted and purged, so Graph
    // answers that item 404.
    assert_eq!(observed["batch_statuses"], serde_json::json!([200, 404]));
    emulator.shutdown().await;
}
