//! Issue #9's safe defaults, each a test that fails if the default goes: TLS verification
//! for Graph and LDAP, the deletion threshold, protected holders never planned for deletion,
//! purges flagged as irreversible, and confirmation before apply writes anything.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{EmulatorProcess, Lab, hardmatch, render};

fn field_story(directory: &Path) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/field-story");
    for name in ["ad.json", "tenant.json"] {
        std::fs::copy(fixtures.join(name), directory.join(name)).unwrap();
    }
}

fn plan(directory: &Path, extra: &[&str]) -> std::process::Output {
    hardmatch()
        .current_dir(directory)
        .args([
            "plan",
            "--ad-snapshot",
            "ad.json",
            "--tenant-snapshot",
            "tenant.json",
            "--all-safe",
            "-o",
            "plan.json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn graph_refuses_a_certificate_it_cannot_verify() {
    let emulator = EmulatorProcess::start(&["--tls"]);
    let directory = tempfile::tempdir().unwrap();
    let sign_in = |extra: &[&str]| {
        hardmatch()
            .current_dir(directory.path())
            .env("SECRET", "not-checked-before-tls")
            .args([
                "snapshot",
                "tenant",
                "--tenant-id",
                "contoso.onmicrosoft.com",
            ])
            .args(["--client-id", "0f1e2d3c-4b5a-4697-8877-665544332211"])
            .args(["--client-secret-env", "SECRET", "-o", "tenant.json"])
            .args([
                "--authority-url",
                &emulator.url,
                "--graph-url",
                &emulator.url,
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = sign_in(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", render(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("is not trusted: invalid peer certificate"),
        "{}",
        render(&refused)
    );
    // With its CA the same call gets through TLS (and on to the sign-in's own answer).
    let ca = emulator.ca_cert.clone().unwrap();
    let trusted = sign_in(&["--graph-ca-cert", &ca]);
    assert!(
        !String::from_utf8_lossy(&trusted.stderr).contains("not trusted"),
        "{}",
        render(&trusted)
    );
    assert!(!directory.path().join("tenant.json").exists() || trusted.status.success());
}

#[test]
fn ldap_refuses_a_certificate_it_cannot_verify() {
    let Some(lab) = Lab::from_environment() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let base = format!("OU=Sales,OU=Staff,OU=Corp,{}", lab.base_dn);
    let read = |with_ca: bool| {
        let mut flags = lab.source_flags_under(&base);
        if !with_ca {
            let at = flags.iter().position(|flag| flag == "--ca-cert").unwrap();
            flags.drain(at..at + 2);
        }
        lab.command()
            .current_dir(directory.path())
            .args(["snapshot", "ad", "-o", "ad.json"])
            .args(flags)
            .output()
            .unwrap()
    };
    let refused = read(false);
    assert_eq!(refused.status.code(), Some(1), "{}", render(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not trusted"),
        "{}",
        render(&refused)
    );
    assert!(!directory.path().join("ad.json").exists());
    let trusted = read(true);
    assert_eq!(trusted.status.code(), Some(0), "{}", render(&trusted));
}

#[test]
fn the_deletion_threshold_applies_by_default_and_when_lowered() {
    let directory = tempfile::tempdir().unwrap();
    field_story(directory.path());
    let output = plan(directory.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let written: Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(written["policy"]["deletion_threshold"], 500);
    let deletions = written["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["kind"] == "soft_delete")
        .count();
    assert!(deletions > 0, "the field story deletes its duplicate");
    std::fs::remove_file(directory.path().join("plan.json")).unwrap();
    let refused = plan(directory.path(), &["--deletion-threshold", "0"]);
    assert_eq!(refused.status.code(), Some(1), "{}", render(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("more than the deletion threshold of 0"),
        "{}",
        render(&refused)
    );
    assert!(!directory.path().join("plan.json").exists());
}

#[test]
fn licensed_mailbox_and_privileged_holders_are_never_planned_for_deletion_and_purges_are_flagged() {
    let directory = tempfile::tempdir().unwrap();
    field_story(directory.path());
    let output = plan(directory.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let tenant: Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("tenant.json")).unwrap())
            .unwrap();
    let written: Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("plan.json")).unwrap())
            .unwrap();
    let privileged: Vec<&str> = tenant["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .chain(tenant["role_eligibilities"].as_array().unwrap())
        .filter_map(|assignment| assignment["principalId"].as_str())
        .collect();
    let destructive = ["soft_delete", "purge_deleted"];
    let mut checked = 0;
    for action in written["actions"].as_array().unwrap() {
        if !destructive.contains(&action["kind"].as_str().unwrap_or_default()) {
            continue;
        }
        let target = action.to_string();
        let user = tenant["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|user| target.contains(user["id"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("the target of {action} is a tenant user"));
        let licences = user["assignedLicenses"].as_array().map_or(0, Vec::len);
        assert_eq!(licences, 0, "a licensed holder is deleted: {action}");
        assert!(
            user["mail"].is_null() || licences == 0,
            "a mailbox holder is deleted: {action}"
        );
        assert!(
            !privileged.contains(&user["id"].as_str().unwrap()),
            "a privileged holder is deleted: {action}"
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "the field story plans its duplicate's deletion"
    );

    // The same story with the duplicate made licensed or privileged: its deletion is no
    // longer planned, and Adele is reported as not planned instead. (A mailbox comes with a
    // licence here: without one the core rightly sees no mailbox to protect.)
    let protections: [(&str, Edit); 2] = [
        ("licensed", |tenant| {
            duplicate(tenant)["assignedLicenses"] = serde_json::json!([
                { "skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965", "disabledPlans": [] }
            ]);
        }),
        ("privileged", |tenant| {
            tenant["role_assignments"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "id": "ra-duplicate",
                    "principalId": DUPLICATE,
                    "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
                    "directoryScopeId": "/"
                }));
        }),
    ];
    for (protection, edit) in protections {
        let mut edited = tenant.clone();
        edit(&mut edited);
        std::fs::write(
            directory.path().join("tenant.json"),
            serde_json::to_vec_pretty(&edited).unwrap(),
        )
        .unwrap();
        let output = hardmatch()
            .current_dir(directory.path())
            .args([
                "plan",
                "--ad-snapshot",
                "ad.json",
                "--tenant-snapshot",
                "tenant.json",
            ])
            .args([
                "--user",
                "adele.vance@contoso.local",
                "-o",
                "protected.json",
            ])
            .output()
            .unwrap();
        assert!(
            matches!(output.status.code(), Some(0 | 2)),
            "{protection}: {}",
            render(&output)
        );
        let protected: Value = serde_json::from_slice(
            &std::fs::read(directory.path().join("protected.json")).unwrap(),
        )
        .unwrap();
        let deletes_it = protected["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|action| {
                destructive.contains(&action["kind"].as_str().unwrap_or_default())
                    && action.to_string().contains(DUPLICATE)
            });
        assert!(
            !deletes_it,
            "a {protection} duplicate is planned for deletion: {protected}"
        );
        assert!(
            protected["skipped"].to_string().contains("Adele Vance"),
            "{protection}: {}",
            render(&output)
        );
    }
    std::fs::write(
        directory.path().join("tenant.json"),
        serde_json::to_vec_pretty(&tenant).unwrap(),
    )
    .unwrap();

    let show = hardmatch()
        .current_dir(directory.path())
        .args(["show", "plan.json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    let purge = text
        .lines()
        .find(|line| line.contains("purge_deleted"))
        .unwrap_or_else(|| panic!("no purge in:\n{text}"));
    assert!(purge.ends_with("[IRREVERSIBLE]"), "{purge}");
    assert!(text.contains("(1 irreversible)"), "{text}");
}

/// `GET {url}{path}` on the emulator's plain-HTTP control endpoints.
fn control(url: &str, path: &str) -> Value {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

#[test]
fn apply_without_yes_and_without_a_terminal_refuses_before_any_write() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story-lab/tenant.json");
    let emulator = EmulatorProcess::start(&["--fixture", fixture.to_str().unwrap()]);
    let directory = tempfile::tempdir().unwrap();
    field_story(directory.path());
    // Any plan will do: the refusal must come before its first action.
    let output = plan(directory.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    // Made for the emulator's tenant, so that only the missing confirmation can refuse it.
    let path = directory.path().join("plan.json");
    let mut written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    written["tenant_id"] = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&written).unwrap()).unwrap();
    let refused = hardmatch()
        .current_dir(directory.path())
        .env("SECRET", "field-story-lab-secret")
        .args(["apply", "plan.json", "--sync-engine", "emulator"])
        .args(["--workspace", "workspace", "--ad-snapshot", "ad.json"])
        .args(["--tenant-id", "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"])
        .args(["--client-id", "0f1e2d3c-4b5a-4697-8877-665544332211"])
        .args(["--client-secret-env", "SECRET"])
        .args([
            "--authority-url",
            &emulator.url,
            "--graph-url",
            &emulator.url,
        ])
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", render(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "{}",
        render(&refused)
    );
    let log = control(&emulator.url, "/_emulator/requests");
    let requests = log["requests"].as_array().unwrap();
    let writes: Vec<&Value> = requests
        .iter()
        .filter(|entry| {
            let method = entry["method"].as_str().unwrap_or_default();
            let path = entry["path"].as_str().unwrap_or_default();
            method != "GET" && !path.contains("/oauth2/") && !path.starts_with("/_emulator")
        })
        .collect();
    assert!(
        writes.is_empty(),
        "apply wrote before confirmation: {writes:?}"
    );
}

/// A change to a tenant snapshot.
type Edit = fn(&mut Value);

/// The duplicate the sync created for Adele in the field story.
const DUPLICATE: &str = "11111111-aaaa-4aaa-8aaa-111111111111";

fn duplicate(tenant: &mut Value) -> &mut Value {
    tenant["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|user| user["id"] == DUPLICATE)
        .unwrap()
}
