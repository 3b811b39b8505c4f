//! `hardmatch plan` and `hardmatch show` on the field story.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::apply::{ISAIAH_GUID, lab_fixture, run, strings, tenant_flags, write_ad_snapshot};
use crate::support::{EmulatorProcess, hardmatch, render};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story")
        .join(name)
        .display()
        .to_string()
}

/// Dates and the plan's own hashes change with every run; snapshots show the rest.
fn stable(text: &str) -> String {
    let mut stable = String::new();
    for line in text.lines() {
        let line = if line.trim_start().starts_with("generated at:")
            || line.starts_with("# Generated at")
        {
            "[generated at]".to_owned()
        } else if let Some((index, prefix)) = ["fnv1a64:", "xxh3:", "xxh3-fields:"]
            .iter()
            .find_map(|prefix| Some((line.find(prefix)?, prefix)))
        {
            format!("{}{prefix}[hash]", &line[..index])
        } else {
            line.to_owned()
        };
        stable.push_str(&line);
        stable.push('\n');
    }
    stable
}

fn plan(directory: &tempfile::TempDir, selection: &[&str]) -> (std::process::Output, PathBuf) {
    let path = directory.path().join("plan.json");
    let output = hardmatch()
        .args([
            "plan",
            "--ad-snapshot",
            &fixture("ad.json"),
            "--tenant-snapshot",
            &fixture("tenant.json"),
        ])
        .args(selection)
        .args(["-o", path.to_str().unwrap()])
        .output()
        .unwrap();
    (output, path)
}

#[test]
fn field_story_plan_purges_the_duplicate_then_links_the_licensed_account() {
    let directory = tempfile::tempdir().unwrap();
    let (output, path) = plan(
        &directory,
        &[
            "--user",
            "adele.vance@contoso.local",
            "--user",
            "patti.fernandez",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "changes exit 2\n{}",
        render(&output)
    );
    insta::assert_snapshot!(stable(&String::from_utf8(output.stdout).unwrap()));

    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["kind"].as_str().unwrap())
        .collect();
    let position = |kind: &str| {
        kinds
            .iter()
            .position(|candidate| *candidate == kind)
            .unwrap()
    };
    assert!(position("soft_delete") < position("purge_deleted"));
    assert!(position("purge_deleted") < position("set_immutable_id"));
    assert!(position("set_immutable_id") < position("trigger_sync"));
    for action in plan["actions"].as_array().unwrap() {
        let kind = action["kind"].as_str().unwrap();
        if matches!(kind, "soft_delete" | "purge_deleted") {
            // The licensed account is never the one deleted.
            assert_eq!(
                action["target"]["id"],
                "11111111-aaaa-4aaa-8aaa-111111111111"
            );
        }
        assert_eq!(action["irreversible"], kind == "purge_deleted", "{kind}");
    }
    assert_eq!(plan["skipped"][0]["code"], "target_blocked");
}

#[test]
fn nothing_to_do_exits_zero() {
    let directory = tempfile::tempdir().unwrap();
    let (output, _) = plan(&directory, &["--user", "megan.bowen@contoso.com"]);
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
}

#[test]
fn show_renders_the_saved_plan_and_its_powershell() {
    let directory = tempfile::tempdir().unwrap();
    let (output, path) = plan(&directory, &["--user", "adele.vance"]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let show = hardmatch()
        .args(["show", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(show.status.success());
    assert_eq!(show.stdout, output.stdout, "show prints what plan printed");
    let powershell = hardmatch()
        .args(["show", "--powershell", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(powershell.status.success());
    insta::assert_snapshot!(stable(&String::from_utf8(powershell.stdout).unwrap()));
    // The JSON is the file as written, then a blank line.
    let json = hardmatch()
        .args(["show", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", render(&json));
    let mut file = std::fs::read(&path).unwrap();
    file.push(b'\n');
    assert!(json.stdout == file, "{}", render(&json));
}

#[test]
fn a_hand_edited_plan_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let (_, path) = plan(&directory, &["--user", "adele.vance"]);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "22222222-bbbb-4bbb-8bbb-222222222222",
            "33333333-cccc-4ccc-8ccc-333333333333",
        ),
    )
    .unwrap();
    let output = hardmatch()
        .args(["show", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("edited after it was generated"), "{stderr}");
    assert!(stderr.contains("hint: make a new plan"), "{stderr}");
}

#[test]
fn a_selection_is_required_and_a_bad_mapping_names_its_line() {
    let directory = tempfile::tempdir().unwrap();
    let (output, path) = plan(&directory, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!path.exists(), "no plan file on error");
    let mapping = directory.path().join("pairs.csv");
    std::fs::write(&mapping, "ad,cloud\nadele.vance;adele.vance@contoso.com\n").unwrap();
    let (output, path) = plan(&directory, &["--mapping", mapping.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!path.exists(), "no plan file on error");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("line 2 of"), "{stderr}");
}

#[test]
fn a_mapping_links_accounts_whose_names_differ() {
    let directory = tempfile::tempdir().unwrap();
    let mapping = directory.path().join("pairs.csv");
    std::fs::write(
        &mapping,
        "ad,cloud\nnestor.wilke,44444444-dddd-4ddd-8ddd-444444444444\n",
    )
    .unwrap();
    let (output, path) = plan(&directory, &["--mapping", mapping.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|action| action["kind"] == "set_immutable_id"
                && action["target"]["id"] == "44444444-dddd-4ddd-8ddd-444444444444"
                && action["value"] == "gS5Mmjt/Wk224CyNH3o+lQ==")
    );
}

/// The field-story lab tenant with the duplicate the sync created for Isaiah, which signed
/// in `days_ago` days ago (`None`: never); without `audit_log`, the app may not read
/// sign-ins.
fn tenant_with_signed_in_duplicate(
    directory: &std::path::Path,
    days_ago: Option<i64>,
    audit_log: bool,
) -> String {
    let mut fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(lab_fixture()).unwrap()).unwrap();
    let anchor = hardmatch_core::anchor::ObjectGuid::parse_canonical(ISAIAH_GUID)
        .unwrap()
        .immutable_id();
    let signed_in = days_ago.map(|days| {
        let date = time::OffsetDateTime::now_utc() - time::Duration::days(days);
        json!({ "lastSignInDateTime": date.format(&time::format_description::well_known::Rfc3339).unwrap() })
    });
    fixture["users"].as_array_mut().unwrap().push(json!({
        "id": "d0d0d0d0-2222-4e5f-9a0b-1c2d3e4f5a62",
        "userPrincipalName": "isaiah.langer@contoso.onmicrosoft.com",
        "displayName": "Isaiah Langer",
        "mailNickname": "isaiah.langer",
        "proxyAddresses": ["SMTP:isaiah.langer@contoso.onmicrosoft.com"],
        "accountEnabled": true,
        "createdDateTime": "2026-11-20T03:00:00Z",
        "onPremisesImmutableId": anchor.as_str(),
        "onPremisesSyncEnabled": true,
        "onPremisesLastSyncDateTime": "2026-11-20T03:00:00Z",
        "assignedLicenses": [],
        "businessPhones": [],
        "signInActivity": signed_in
    }));
    if !audit_log {
        fixture["apps"][0]["application_permissions"]
            .as_array_mut()
            .unwrap()
            .retain(|permission| permission != "AuditLog.Read.All");
    }
    let path = directory.join("tenant.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&fixture).unwrap()).unwrap();
    path.display().to_string()
}

fn live_plan(
    fixture: &str,
    directory: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let emulator = EmulatorProcess::start(&["--fixture", fixture]);
    let ad = directory.join("ad.json");
    write_ad_snapshot(&ad);
    let plan = directory.join("plan.json");
    let mut arguments = strings(&[
        "plan",
        "--user",
        "isaiah.langer@fabrikam.com",
        "--ad-snapshot",
    ]);
    arguments.push(ad.display().to_string());
    arguments.extend(tenant_flags(&emulator.url));
    arguments.extend(strings(extra));
    arguments.extend(["-o".to_owned(), plan.display().to_string()]);
    let output = run(&arguments);
    let plan = std::fs::read_to_string(&plan)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    (output, plan)
}

/// What the plan's soft delete gives as evidence about the account it deletes.
fn deletion_evidence(plan: &Value) -> &str {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "soft_delete")
        .expect("a soft delete")["evidence"][0]
        .as_str()
        .unwrap()
}

fn kinds(plan: &Value) -> Vec<&str> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn a_live_plan_reads_the_sign_in_of_the_duplicate_it_would_delete() {
    let directory = tempfile::tempdir().unwrap();
    // Signed in yesterday: the duplicate is in use, and the plan refuses to delete it.
    let fixture = tenant_with_signed_in_duplicate(directory.path(), Some(1), true);
    let (output, plan) = live_plan(&fixture, directory.path(), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reading the sign-in activity of 1 account(s) the plan deletes"),
        "{}",
        render(&output)
    );
    assert!(!kinds(&plan).contains(&"soft_delete"), "{plan:#}");
    let reason = plan["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("it signed in 1 day(s) ago"), "{reason}");

    // Told not to read it, the same tenant gets the deletion, with the sign-in unknown.
    let (output, plan) = live_plan(&fixture, directory.path(), &["--skip-sign-in-read"]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("reading the sign-in"));
    let evidence = deletion_evidence(&plan);
    assert!(
        evidence.contains("sign-in activity unknown (not the same as unused)"),
        "{evidence}"
    );
    assert!(evidence.contains(", created 2026-11-20)"), "{evidence}");

    // Read and never signed in: the deletion goes ahead, and the evidence says what was read.
    let fixture = tenant_with_signed_in_duplicate(directory.path(), None, true);
    let (output, plan) = live_plan(&fixture, directory.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let evidence = deletion_evidence(&plan);
    assert!(
        evidence.contains("no sign-in on record (never, or before April 2020)"),
        "{evidence}"
    );
}

#[test]
fn a_live_plan_without_audit_log_access_warns_and_names_the_permission() {
    let directory = tempfile::tempdir().unwrap();
    let fixture = tenant_with_signed_in_duplicate(directory.path(), Some(1), false);
    let (output, plan) = live_plan(&fixture, directory.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "warning: the sign-in activity of the accounts the plan deletes was not read"
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("(Microsoft Graph: \"Insufficient privileges to complete the operation.\")"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: grant the app registration AuditLog.Read.All with admin consent"),
        "{stderr}"
    );
    // The plan goes on: the duplicate is unlicensed, and its evidence says what is unknown.
    assert!(kinds(&plan).contains(&"soft_delete"), "{plan:#}");
}
