//! `hardmatch demo` from the built binary: it runs to the end on the bundled tenant and AD,
//! finds every hard case the bundled data was made with, and its verify step reports every
//! planned user linked; the narration is snapshotted with its volatile parts redacted.

use serde_json::Value;

use crate::support::{hardmatch, render};

#[test]
fn the_demo_links_every_planned_user_and_names_each_case() {
    let output = hardmatch().args(["demo", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    for case in [
        "sync_created_duplicates",
        "recycle_bin_holders",
        "licensed_holders",
        "admin_role_targets",
        "proxy_address_conflicts",
        "unverified_upn_suffix",
    ] {
        assert!(
            report["cases"][case].as_u64().unwrap() > 0,
            "the bundled data has no {case}: {}",
            report["cases"]
        );
    }
    assert!(report["cloud_users"].as_u64().unwrap() >= 200);

    let verdicts = report["verify"].as_array().unwrap();
    let planned = report["plan"]["users"].as_u64().unwrap();
    assert!(planned > 50, "a demo worth the name plans many users");
    assert_eq!(verdicts.len() as u64, planned);
    for verdict in verdicts {
        assert_eq!(verdict["status"], "linked", "{verdict}");
        assert_eq!(verdict["problems"], Value::Array(Vec::new()));
    }
    assert_eq!(report["apply"]["outcome"], "completed");
    assert_eq!(report["apply"]["failed"], 0);

    // The admins are refused, not deleted, and stay blocked; what was planned is linked now.
    let skipped = report["plan"]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|skipped| skipped["code"] == "target_blocked")
    );
    let linked_before = report["status"]["linked"].as_u64().unwrap();
    let linked_after = report["after"]["linked"].as_u64().unwrap();
    assert!(
        linked_after >= linked_before + planned,
        "{linked_before} + {planned} planned, {linked_after} linked after"
    );
    assert_eq!(report["after"]["will_hard_match"], 0);
    assert_eq!(report["after"]["will_soft_match"], 0);
    // The cycle creates the new people's accounts and reports the refused admins.
    let last_cycle = report["sync"].as_array().unwrap().last().unwrap();
    assert!(
        last_cycle["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|code| code == "Existing Admin Role Conflict")
    );
    assert!(report["work_directory"].is_null());
}

#[test]
fn the_narration_names_each_step_and_case() {
    let keep = tempfile::tempdir().unwrap();
    let work = keep.path().join("run");
    let output = hardmatch()
        .args(["demo", "--keep", work.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let narration = String::from_utf8(output.stderr).unwrap();
    for step in [
        "1/5 status",
        "2/5 plan",
        "3/5 apply",
        "4/5 sync",
        "5/5 verify",
    ] {
        assert!(narration.contains(step), "no step `{step}`:\n{narration}");
    }
    // The kept files are the real commands' inputs: the plan reads back with `show`.
    for file in ["plan.json", "ad.json", "tenant.json"] {
        assert!(work.join(file).is_file(), "{file} is kept");
    }
    let show = hardmatch()
        .args(["show", work.join("plan.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", render(&show));
    let history = hardmatch()
        .args([
            "history",
            "--json",
            "--workspace",
            work.join("workspace").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let run: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(run["outcome"], "completed");

    // The emulator's port and the work directory change with every run.
    insta::with_settings!({filters => vec![
        (r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:[port]"),
        (r"\S+/run\b", "[work]"),
    ]}, {
        insta::assert_snapshot!(narration);
    });
}

/// With LDAP flags the demo reads the Samba lab's users instead of the bundled AD (once,
/// writing nothing back), and the emulated sync provisions the ones the tenant lacks.
#[test]
fn the_demo_reads_the_lab_when_given_ldap_flags() {
    let Some(lab) = crate::support::Lab::from_environment() else {
        return;
    };
    let output = lab
        .command()
        .args(["demo", "--json"])
        .args(lab.source_flags_under(&format!("OU=Corp,{}", lab.base_dn)))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let read = report["ad_users"].as_u64().unwrap();
    assert!(
        read > 0 && read < 300,
        "the lab's users, not the bundled 300: {read}"
    );
    let new_people = report["status"]["will_create"].as_u64().unwrap();
    assert_eq!(report["after"]["will_create"], 0);
    assert!(report["after"]["linked"].as_u64().unwrap() >= new_people);
    let last_cycle = report["sync"].as_array().unwrap().last().unwrap();
    assert_eq!(last_cycle["creations"].as_u64().unwrap(), new_people);
}
