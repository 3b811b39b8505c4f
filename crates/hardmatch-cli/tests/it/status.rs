//! `hardmatch status` on the field story: a sync-created duplicate next to the licensed
//! account, a soft-match candidate, a linked user and an admin-role block.

use std::path::PathBuf;

use crate::support::{hardmatch, render};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story")
        .join(name)
        .display()
        .to_string()
}

fn status(extra: &[&str]) -> std::process::Output {
    hardmatch()
        .args([
            "status",
            "--ad-snapshot",
            &fixture("ad.json"),
            "--tenant-snapshot",
            &fixture("tenant.json"),
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn field_story_status_table() {
    insta::assert_snapshot!(render(&status(&[])));
}

#[test]
fn json_carries_evidence_for_the_duplicate() {
    let output = status(&["--json", "--user", "adele.vance"]);
    assert!(output.status.success(), "{}", render(&output));
    let diagnosis: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let users = diagnosis["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "--user selects by sAMAccountName");
    assert_eq!(users[0]["status"], "conflicting");
    assert_eq!(users[0]["reason"], "sync_created_duplicate");
    assert_eq!(
        users[0]["cloud_user_principal_name"],
        "adele.vance@contoso.com"
    );
    let codes: Vec<&str> = users[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|evidence| evidence["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["duplicate", "real_account"]);
    // The summary still counts every user, not only the selected one.
    assert_eq!(diagnosis["summary"]["linked"], 1);
    assert_eq!(diagnosis["summary"]["will_soft_match"], 1);
}

#[test]
fn csv_has_one_row_per_selected_user() {
    let output = status(&[
        "--csv",
        "--status",
        "blocked",
        "--status",
        "will_soft_match",
    ]);
    assert!(output.status.success(), "{}", render(&output));
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn an_unknown_status_name_lists_the_valid_ones() {
    let output = status(&["--status", "broken"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid value 'broken'"), "{stderr}");
    assert!(stderr.contains("will_create"), "{stderr}");
}

#[test]
fn a_snapshot_from_a_newer_hardmatch_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let newer = directory.path().join("ad.json");
    let text = std::fs::read_to_string(fixture("ad.json")).unwrap();
    std::fs::write(
        &newer,
        text.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let output = hardmatch()
        .args([
            "status",
            "--ad-snapshot",
            newer.to_str().unwrap(),
            "--tenant-snapshot",
            &fixture("tenant.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("format 99, newer than this hardmatch reads (1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: use the hardmatch version that wrote it"),
        "{stderr}"
    );
}
