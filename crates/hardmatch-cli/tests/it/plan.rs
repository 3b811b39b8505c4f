//! `hardmatch plan` and `hardmatch show` on the field story.

use std::path::PathBuf;

use crate::support::{hardmatch, render};

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
        } else if let Some(index) = line.find("fnv1a64:") {
            format!("{}fnv1a64:[hash]", &line[..index])
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
