//! Microsoft's own Python Graph SDK (msgraph-sdk with azure-identity) against
//! `hardmatch emulator --tls`: if the emulator's wire format drifts from Graph's, the
//! official client notices before any of our code does.
//!
//! The venv comes from `scripts/graph-sdk-venv`; `scripts/test` exports its python as
//! `HARDMATCH_GRAPH_SDK_PYTHON`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::EmulatorProcess;

fn python() -> Option<String> {
    match std::env::var("HARDMATCH_GRAPH_SDK_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("HARDMATCH_SKIP_GRAPH_SDK").is_some() => {
            eprintln!("NOTICE: Graph SDK conformance skipped (HARDMATCH_SKIP_GRAPH_SDK is set)");
            None
        }
        _ => panic!(
            "HARDMATCH_GRAPH_SDK_PYTHON is not set: run the suite through scripts/test, or \
             export HARDMATCH_GRAPH_SDK_PYTHON=$(scripts/graph-sdk-venv)"
        ),
    }
}

#[test]
fn microsoft_graph_sdk_drives_the_emulator() {
    let Some(python) = python() else { return };
    let emulator = EmulatorProcess::start(&["--tls"]);
    let url = &emulator.url;
    let ca = emulator.ca_cert.clone().unwrap();
    let host = url.strip_prefix("https://").unwrap().to_owned();

    let fixture: Value = serde_json::from_str(hardmatch_fixture()).unwrap();
    let app = &fixture["apps"][0];
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/graph-sdk/conformance.py");
    let output = Command::new(python)
        .arg(script)
        .env("HARDMATCH_GRAPH_URL", format!("{url}/v1.0"))
        .env("HARDMATCH_AUTHORITY_HOST", &host)
        .env(
            "HARDMATCH_TENANT_ID",
            fixture["tenant"]["id"].as_str().unwrap(),
        )
        .env("HARDMATCH_CLIENT_ID", app["client_id"].as_str().unwrap())
        .env(
            "HARDMATCH_CLIENT_SECRET",
            app["client_secret"].as_str().unwrap(),
        )
        .env("SSL_CERT_FILE", &ca)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the SDK script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let observed: Value = serde_json::from_slice(&output.stdout).unwrap();

    // graph-api.md §3.2: following @odata.nextLink yields every active user exactly once.
    let mut active: Vec<&str> = fixture["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|user| user["deletedDateTime"].is_null())
        .map(|user| user["id"].as_str().unwrap())
        .collect();
    active.sort_unstable();
    let listed: Vec<&str> = observed["listed_user_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(listed, active);
    assert_eq!(observed["pages"], active.len().div_ceil(2));

    // §3.3: startsWith on userPrincipalName is a default filter.
    let prefix = observed["filter_prefix"].as_str().unwrap().to_lowercase();
    let filtered = observed["filtered_upns"].as_array().unwrap();
    assert!(!filtered.is_empty());
    assert!(
        filtered
            .iter()
            .all(|upn| upn.as_str().unwrap().to_lowercase().starts_with(&prefix))
    );

    // §5 and §10: the write is read back, and a second holder is refused with the exact error.
    assert_eq!(
        observed["patched_value_read_back"],
        "c2RrLWNvbmZvcm1hbmNlLTE="
    );
    assert_eq!(observed["conflict"]["status"], 400);
    assert_eq!(observed["conflict"]["code"], "Request_BadRequest");
    assert_eq!(
        observed["conflict"]["message"],
        "Another object with the same value for property onPremisesImmutableId already exists."
    );

    // §4: delete → listed among deleted users → purge → gone everywhere.
    assert_eq!(observed["deleted_listed"], true);
    assert_eq!(observed["purged_still_listed"], false);
    assert_eq!(observed["purged_get"]["status"], 404);
    assert_eq!(observed["purged_get"]["code"], "Request_ResourceNotFound");

    // §11: both batch items answered.
    assert_eq!(observed["batch_statuses"], serde_json::json!([200, 200]));
}

fn hardmatch_fixture() -> &'static str {
    include_str!("../../../hardmatch-emulator/fixtures/contoso.json")
}
