//! `hardmatch rehearse`: a plan applied to an emulated copy of a tenant snapshot, then the
//! sync cycle. The field story's plan is predicted to link; a plan that links someone's own
//! account while another account holds their address is predicted to hit the quarantine
//! the sync raises (AttributeValueMustBeUnique on proxyAddresses).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{hardmatch, render};

fn field_story(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story")
        .join(name)
        .display()
        .to_string()
}

/// The demo's bundled directories: a few hundred users with every hard case.
fn demo_data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name)
        .display()
        .to_string()
}

fn make_plan(ad: &str, tenant: &str, selection: &[&str], path: &Path) {
    let output = hardmatch()
        .args(["plan", "--ad-snapshot", ad, "--tenant-snapshot", tenant])
        .args(selection)
        .args(["-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
}

fn rehearse(plan: &Path, ad: &str, tenant: &str, extra: &[&str]) -> std::process::Output {
    hardmatch()
        .args(["rehearse", plan.to_str().unwrap()])
        .args(["--tenant-snapshot", tenant, "--ad-snapshot", ad])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_field_story_is_predicted_linked_without_new_duplicates() {
    let directory = tempfile::tempdir().unwrap();
    let plan = directory.path().join("plan.json");
    let (ad, tenant) = (field_story("ad.json"), field_story("tenant.json"));
    make_plan(
        &ad,
        &tenant,
        &["--user", "adele.vance@contoso.local"],
        &plan,
    );
    let before = std::fs::read(&tenant).unwrap();

    let output = rehearse(&plan, &ad, &tenant, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["plan_users"], 1);
    assert_eq!(report["predicted_linked"], 1);
    let adele = &report["users"][0];
    assert_eq!(adele["predicted"], "linked", "{adele}");
    assert_eq!(adele["status"], "linked");
    assert_eq!(adele["target"], "adele.vance@contoso.com");
    assert_eq!(adele["sync_errors"], Value::Array(Vec::new()));
    assert_eq!(report["new_duplicates"], Value::Array(Vec::new()));
    assert_eq!(report["apply"]["outcome"], "completed");
    assert_eq!(
        std::fs::read(&tenant).unwrap(),
        before,
        "the snapshot is only read"
    );

    let text = rehearse(&plan, &ad, &tenant, &[]);
    assert_eq!(text.status.code(), Some(0), "{}", render(&text));
    insta::assert_snapshot!(render(&text));
}

#[test]
fn a_plan_leaving_a_proxy_address_conflict_is_predicted_to_fail_with_the_sync_error() {
    // Åsa's own account is asa.thompson@contoso.com, but the shared mailbox
    // asa.thompson.shared@contoso.com holds her address smtp:asa.thompson@contoso.com.
    // Linking her own account makes the sync flow that address to it, and Entra ID
    // refuses a second holder.
    let directory = tempfile::tempdir().unwrap();
    let mapping = directory.path().join("pairs.csv");
    std::fs::write(
        &mapping,
        "ad,cloud\nasa.thompson,asa.thompson@contoso.com\n",
    )
    .unwrap();
    let plan = directory.path().join("plan.json");
    let (ad, tenant) = (demo_data("ad.json"), demo_data("tenant.json"));
    make_plan(
        &ad,
        &tenant,
        &["--mapping", mapping.to_str().unwrap()],
        &plan,
    );

    let output = rehearse(&plan, &ad, &tenant, &["--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["predicted_linked"], 0);
    let asa = &report["users"][0];
    assert_eq!(asa["predicted"], "broken", "{asa}");
    assert_eq!(asa["target"], "asa.thompson@contoso.com");
    let errors: Vec<&str> = asa["sync_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|error| error.starts_with("AttributeValueMustBeUnique")
                && error.to_lowercase().contains("proxyaddress")),
        "{errors:?}"
    );

    let text = rehearse(&plan, &ad, &tenant, &[]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(stdout.contains("broken"), "{stdout}");
    assert!(stdout.contains("AttributeValueMustBeUnique"), "{stdout}");
}

#[test]
fn a_missing_tenant_snapshot_is_an_error_with_a_hint() {
    let directory = tempfile::tempdir().unwrap();
    let plan = directory.path().join("plan.json");
    make_plan(
        &field_story("ad.json"),
        &field_story("tenant.json"),
        &["--user", "adele.vance@contoso.local"],
        &plan,
    );
    let missing = directory.path().join("nope.json");
    let output = rehearse(
        &plan,
        &field_story("ad.json"),
        missing.to_str().unwrap(),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("error: cannot read"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn a_plan_that_read_sign_ins_is_rehearsed_with_what_it_read() {
    // The plan read the duplicate's sign-in activity (made live, or from a snapshot that
    // carries it); the snapshot rehearsed against does not carry it, as `snapshot tenant`
    // writes none. The rehearsal plays the tenant as planned, so the delete goes ahead.
    let directory = tempfile::tempdir().unwrap();
    let mut tenant: Value =
        serde_json::from_str(&std::fs::read_to_string(field_story("tenant.json")).unwrap())
            .unwrap();
    let plain = directory.path().join("tenant.json");
    std::fs::write(&plain, tenant.to_string()).unwrap();
    for user in tenant["users"].as_array_mut().unwrap() {
        if user["userPrincipalName"] == "adele.vance@contoso.onmicrosoft.com" {
            user["signInActivity"] =
                serde_json::json!({ "lastSignInDateTime": "2024-02-01T08:00:00Z" });
        }
    }
    let read = directory.path().join("tenant-with-sign-ins.json");
    std::fs::write(&read, tenant.to_string()).unwrap();
    let plan = directory.path().join("plan.json");
    let ad = field_story("ad.json");
    make_plan(
        &ad,
        read.to_str().unwrap(),
        &["--user", "adele.vance@contoso.local"],
        &plan,
    );
    assert!(
        std::fs::read_to_string(&plan)
            .unwrap()
            .contains("\"signInActivity\""),
        "the plan relies on the sign-in it read"
    );
    let output = rehearse(&plan, &ad, plain.to_str().unwrap(), &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["apply"]["stale"], 0, "{report:#}");
    assert_eq!(report["apply"]["outcome"], "completed", "{report:#}");
    assert_eq!(report["predicted_linked"], 1, "{report:#}");
}
