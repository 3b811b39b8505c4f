//! `hardmatch apply`, `verify`, `sync`, `history` and `undo` against the emulator, with an
//! AD snapshot as the rehearsal directory: the field story from the first cycle to linked;
//! confirmation and workspace refusals; and `kill -9` at random points of an apply, after
//! which `apply --resume` converges to the uninterrupted run's state.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hardmatch_core::anchor::ObjectGuid;
use serde_json::{Value, json};

use crate::support::{EmulatorProcess, hardmatch, render};

pub(crate) const TENANT_ID: &str = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
pub(crate) const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
pub(crate) const CLIENT_SECRET: &str = "field-story-lab-secret";
const REAL_ACCOUNT_ID: &str = "a1b2c3d4-1111-4e5f-9a0b-1c2d3e4f5a61";
pub(crate) const ISAIAH_GUID: &str = "7c1d9e2a-3b4f-4a5e-8d6c-0f1e2a3b4c5d";

pub(crate) fn lab_fixture() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story-lab/tenant.json")
        .display()
        .to_string()
}

/// Isaiah as AD has him (the lab's seed): UPN on the unverified fabrikam.com, his contoso
/// address only as a secondary one.
pub(crate) fn write_ad_snapshot(path: &Path) {
    let guid = ObjectGuid::parse_canonical(ISAIAH_GUID).unwrap();
    let snapshot = json!({
        "format_version": 1,
        "source": { "kind": "snapshot", "locations": ["apply-test"] },
        "taken_at": "2026-11-22T03:00:00Z",
        "users": [{
            "distinguished_name": "CN=Isaiah Langer,OU=Sales,OU=Staff,OU=Corp,DC=hardmatch,DC=test",
            "domain": "hardmatch.test",
            "object_guid": ISAIAH_GUID,
            "consistency_guid": null,
            "anchor_attribute": "objectGUID",
            "immutable_id": guid.immutable_id().as_str(),
            "user_principal_name": "isaiah.langer@fabrikam.com",
            "mail": "isaiah.langer@fabrikam.com",
            "proxy_addresses": ["SMTP:isaiah.langer@fabrikam.com", "smtp:isaiah.langer@contoso.com"],
            "sam_account_name": "isaiah.langer",
            "display_name": "Isaiah Langer",
            "given_name": "Isaiah",
            "surname": "Langer",
            "enabled": true
        }]
    });
    std::fs::write(path, serde_json::to_vec_pretty(&snapshot).unwrap()).unwrap();
}

pub(crate) fn tenant_flags(url: &str) -> Vec<String> {
    [
        "--tenant-id",
        TENANT_ID,
        "--client-id",
        CLIENT_ID,
        "--client-secret-env",
        "HARDMATCH_TEST_CLIENT_SECRET",
        "--authority-url",
        url,
        "--graph-url",
        url,
    ]
    .iter()
    .map(|flag| (*flag).to_owned())
    .collect()
}

pub(crate) fn run(arguments: &[String]) -> Output {
    hardmatch()
        .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
        .env("USER", "apply-tester")
        .args(arguments)
        .output()
        .unwrap()
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// `GET {url}{path}` over plain HTTP on loopback, for the emulator's control endpoints.
fn get_json(url: &str, path: &str) -> Value {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The emulator's users that matter for a comparison: the real account's link, and
/// whether any other Isaiah (a duplicate) is left, active or deleted.
fn outcome(url: &str) -> Vec<(String, Value, Value, bool)> {
    let state = get_json(url, "/_emulator/state");
    let mut users: Vec<_> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            (
                user["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                user["onPremisesImmutableId"].clone(),
                user["onPremisesSyncEnabled"].clone(),
                user["deletedDateTime"].is_string(),
            )
        })
        .collect();
    users.sort_by_key(|user| format!("{user:?}"));
    users
}

/// Successful Graph writes by method and path, from the emulator's request log: each
/// planned write must appear exactly once however often the apply was killed. The
/// emulator logs a write sent in a `$batch` as `…/$batch/users/{id}`; it counts here under
/// the path of the same write sent alone (a resume resends a lost one alone), so that a
/// write made twice, once in a batch and once alone, shows up twice.
fn writes(url: &str) -> std::collections::BTreeMap<(String, String), usize> {
    let log = get_json(url, "/_emulator/requests");
    let mut counts = std::collections::BTreeMap::new();
    for entry in log["requests"].as_array().unwrap() {
        let method = entry["method"].as_str().unwrap_or_default();
        let path = entry["path"]
            .as_str()
            .unwrap_or_default()
            .replace("/$batch/", "/");
        let path = path.as_str();
        let status = entry["status"].as_u64().unwrap_or_default();
        if method != "GET"
            && (200..300).contains(&status)
            && !path.contains("oauth2")
            && !path.ends_with("/$batch")
            && !path.starts_with("/_emulator")
        {
            *counts
                .entry((method.to_owned(), path.to_owned()))
                .or_default() += 1;
        }
    }
    counts
}

/// An emulator where the first cycle created Isaiah's duplicate, and the plan that fixes it.
struct Story {
    emulator: EmulatorProcess,
    directory: tempfile::TempDir,
    ad: PathBuf,
    plan: PathBuf,
}

impl Story {
    fn start(fixture: &str) -> Self {
        let emulator = EmulatorProcess::start(&["--fixture", fixture]);
        let directory = tempfile::tempdir().unwrap();
        let ad = directory.path().join("ad.json");
        write_ad_snapshot(&ad);
        Self {
            plan: directory.path().join("plan.json"),
            emulator,
            directory,
            ad,
        }
    }

    fn flags(&self) -> Vec<String> {
        tenant_flags(&self.emulator.url)
    }

    fn workspace(&self) -> String {
        self.directory.path().join("ws").display().to_string()
    }

    fn make_plan(&self) {
        let mut arguments = strings(&[
            "plan",
            "--user",
            "isaiah.langer@fabrikam.com",
            "--ad-snapshot",
        ]);
        arguments.push(self.ad.display().to_string());
        arguments.extend(self.flags());
        arguments.extend(["-o".to_owned(), self.plan.display().to_string()]);
        let output = run(&arguments);
        assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    }

    fn apply_arguments(&self) -> Vec<String> {
        let mut arguments = strings(&[
            "apply",
            "--yes",
            "--allow-purge",
            "--sync-engine",
            "emulator",
            "--workspace",
        ]);
        arguments.push(self.workspace());
        arguments.extend(["--ad-snapshot".to_owned(), self.ad.display().to_string()]);
        arguments.extend(self.flags());
        arguments
    }
}

#[test]
fn apply_sync_and_verify_link_the_field_story_and_history_records_it() {
    let story = Story::start(&lab_fixture());

    // The first cycle, through `hardmatch sync --wait`: it creates the duplicate.
    let mut arguments = strings(&[
        "sync",
        "--engine",
        "emulator",
        "--wait",
        "--timeout",
        "30",
        "--ad-snapshot",
    ]);
    arguments.push(story.ad.display().to_string());
    arguments.extend(story.flags());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("last sync: "));
    story.make_plan();

    // Unattended without --yes: refused, nothing changed.
    let mut refused = story.apply_arguments();
    refused.retain(|argument| argument != "--yes");
    refused.insert(1, story.plan.display().to_string());
    let output = hardmatch()
        .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
        .args(&refused)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--yes"),
        "{}",
        render(&output)
    );

    // --yes alone does not confirm the plan's purge: refused before any write.
    let mut refused = story.apply_arguments();
    refused.retain(|argument| argument != "--allow-purge");
    refused.insert(1, story.plan.display().to_string());
    let output = run(&refused);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("purges 1 user(s) permanently") && stderr.contains("--allow-purge"),
        "{stderr}"
    );
    assert!(
        writes(&story.emulator.url).is_empty(),
        "{:?}",
        writes(&story.emulator.url)
    );

    // A snapshot cannot be applied to.
    let output = run(&strings(&[
        "apply",
        "--yes",
        story.plan.to_str().unwrap(),
        "--workspace",
        &story.workspace(),
        "--tenant-snapshot",
        story.ad.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("hint:"),
        "{}",
        render(&output)
    );

    // Apply: every action succeeds, live status on stderr, the summary on stdout.
    let mut arguments = story.apply_arguments();
    arguments.insert(1, story.plan.display().to_string());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in_flight") && stderr.contains("succeeded"),
        "{stderr}"
    );
    assert!(stderr.contains("completed"), "{stderr}");

    // Verify: linked (the plan's own trigger_sync ran the cycle).
    let mut arguments = strings(&["verify", story.plan.to_str().unwrap(), "--json"]);
    arguments.extend(story.flags());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["status"], "linked", "{verdict:#}");
    assert_eq!(verdict["target_id"], REAL_ACCOUNT_ID);

    // History: one run, by the OS user, completed; as JSON and CSV.
    let output = run(&strings(&[
        "history",
        "--json",
        "--workspace",
        &story.workspace(),
    ]));
    assert!(output.status.success(), "{}", render(&output));
    let runs: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["operator"], "apply-tester");
    assert_eq!(runs[0]["outcome"], "completed");
    let run_id = runs[0]["id"].as_str().unwrap().to_owned();
    let output = run(&strings(&[
        "history",
        "--csv",
        "--workspace",
        &story.workspace(),
    ]));
    let csv = String::from_utf8_lossy(&output.stdout);
    assert!(csv.starts_with("id,kind,"), "{csv}");
    assert!(csv.contains(&run_id));

    // Verify by run id reads the plan from the journal.
    let mut arguments = strings(&["verify", &run_id, "--workspace", &story.workspace()]);
    arguments.extend(story.flags());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));

    // Undo after the cycle: the purge is named as irreversible, the AD write is reversed,
    // and Entra ID refuses to clear the ImmutableID of a user that is now synced, which the
    // run reports with the next step. The undo is a journaled run of its own.
    let mut arguments = strings(&[
        "undo",
        &run_id,
        "--yes",
        "--workspace",
        &story.workspace(),
        "--ad-snapshot",
    ]);
    arguments.push(story.ad.display().to_string());
    arguments.extend(story.flags());
    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot undo: a3 permanently deleted")
            && stderr.contains("a purge cannot be undone"),
        "{}",
        render(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let state_of = |kind: &str| {
        stdout.lines().find(|line| line.contains(kind)).map(|line| {
            line.split_whitespace()
                .nth(2)
                .unwrap_or_default()
                .to_owned()
        })
    };
    assert_eq!(
        state_of("ad_set_upn").as_deref(),
        Some("succeeded"),
        "{stdout}"
    );
    // The run's sync linked the account: taking its ImmutableID back is not sent at all.
    assert_eq!(
        state_of("clear_immutable_id").as_deref(),
        Some("stale"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`onPremisesSyncEnabled` is true")
            && stdout.contains("take it out of sync scope first"),
        "{stdout}"
    );
    let output = run(&strings(&[
        "history",
        "--json",
        "--workspace",
        &story.workspace(),
    ]));
    let runs: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["kind"], "undo", "{runs:#?}");
    assert_eq!(runs[0]["undoes_run"], run_id.as_str(), "{runs:#?}");
    assert_eq!(runs[0]["outcome"], "partial", "{runs:#?}");

    // The workspace keeps itself out of git.
    assert!(Path::new(&story.workspace()).join(".gitignore").exists());
}

#[test]
fn a_plan_for_another_tenant_is_refused_before_any_write() {
    let story = Story::start(&lab_fixture());
    let mut arguments = strings(&[
        "emulator",
        "sync",
        "--url",
        &story.emulator.url,
        "--ad-snapshot",
    ]);
    arguments.push(story.ad.display().to_string());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));
    story.make_plan();
    let mut plan: Value = serde_json::from_slice(&std::fs::read(&story.plan).unwrap()).unwrap();
    assert_eq!(plan["tenant_id"], TENANT_ID);
    plan["tenant_id"] = json!("0badc0de-0000-4000-8000-000000000001");
    std::fs::write(&story.plan, plan.to_string()).unwrap();

    let mut arguments = story.apply_arguments();
    arguments.insert(1, story.plan.display().to_string());
    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("0badc0de-0000-4000-8000-000000000001")
            && stderr.contains(TENANT_ID)
            && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(writes(&story.emulator.url).is_empty());
}

#[test]
fn a_second_apply_on_a_busy_workspace_is_refused() {
    let story = Story::start(&lab_fixture());
    let _held =
        hardmatch_executor::workspace::Workspace::open(Path::new(&story.workspace())).unwrap();
    let mut arguments = strings(&[
        "apply",
        "--resume",
        "--yes",
        "--workspace",
        &story.workspace(),
    ]);
    arguments.extend(story.flags());
    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another hardmatch run holds the workspace"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// Small xorshift generator: reproducible trials without another crate.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn apply_killed_at_random_points_resumes_to_the_same_state() {
    // The tenant after the first cycle, saved as a fixture every trial starts from.
    let prepared = Story::start(&lab_fixture());
    let mut arguments = strings(&[
        "emulator",
        "sync",
        "--url",
        &prepared.emulator.url,
        "--ad-snapshot",
    ]);
    arguments.push(prepared.ad.display().to_string());
    let output = run(&arguments);
    assert!(output.status.success(), "{}", render(&output));
    let fixture = prepared.directory.path().join("after-first-cycle.json");
    std::fs::write(
        &fixture,
        get_json(&prepared.emulator.url, "/_emulator/state").to_string(),
    )
    .unwrap();
    let fixture = fixture.display().to_string();

    // The uninterrupted run, for reference, and how long it takes.
    let reference = Story::start(&fixture);
    reference.make_plan();
    let plan_text = std::fs::read(&reference.plan).unwrap();
    let mut arguments = reference.apply_arguments();
    arguments.insert(1, reference.plan.display().to_string());
    let started = std::time::Instant::now();
    let output = run(&arguments);
    let duration = started.elapsed();
    assert!(output.status.success(), "{}", render(&output));
    let expected = outcome(&reference.emulator.url);
    let expected_writes = writes(&reference.emulator.url);
    assert!(
        expected_writes.values().all(|count| *count == 1),
        "{expected_writes:#?}"
    );
    let mut resumed = 0;

    let trials: usize = std::env::var("HARDMATCH_KILL_TRIALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut killed = 0;
    for trial in 0..trials {
        let story = Story::start(&fixture);
        std::fs::write(&story.plan, &plan_text).unwrap();
        let mut arguments = story.apply_arguments();
        arguments.insert(1, story.plan.display().to_string());
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
            .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
            .env("NO_COLOR", "1")
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Half the trials kill anywhere from start-up on; the other half wait for the first
        // write to be in flight, so that most kills land among the writes.
        let (first_write, writing) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut told = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !told && line.contains("in_flight") {
                    told = true;
                    let _ = first_write.send(());
                }
            }
        });
        let aim_at_writes = trial % 2 == 1;
        let window = if aim_at_writes {
            let _ = writing.recv_timeout(Duration::from_secs(10));
            duration.as_millis() as u64 / 2
        } else {
            duration.as_millis() as u64
        };
        let delay = random.next() % (window + 1);
        std::thread::sleep(Duration::from_millis(delay));
        // SIGKILL: no destructor, no flush, exactly a kill -9.
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            killed += 1;
        }
        let mut arguments = strings(&[
            "apply",
            "--resume",
            "--yes",
            "--sync-engine",
            "emulator",
            "--workspace",
        ]);
        arguments.push(story.workspace());
        arguments.extend(["--ad-snapshot".to_owned(), story.ad.display().to_string()]);
        arguments.extend(story.flags());
        let output = run(&arguments);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Killed before the run was journaled: there is nothing to resume, so apply anew.
        if !output.status.success() && stderr.contains("no unfinished run") {
            let finished = run(&strings(&[
                "history",
                "--json",
                "--workspace",
                &story.workspace(),
            ]));
            if String::from_utf8_lossy(&finished.stdout).trim().is_empty() {
                let mut arguments = story.apply_arguments();
                arguments.insert(1, story.plan.display().to_string());
                let output = run(&arguments);
                assert!(
                    output.status.success(),
                    "trial {trial}: {}",
                    render(&output)
                );
            }
        } else {
            assert!(
                output.status.success(),
                "trial {trial} (killed after {delay} ms): {}",
                render(&output)
            );
            resumed += 1;
        }
        // No write twice, none lost.
        assert_eq!(
            writes(&story.emulator.url),
            expected_writes,
            "trial {trial}: killed after {delay} ms"
        );
        assert_eq!(
            outcome(&story.emulator.url),
            expected,
            "trial {trial}: killed after {delay} ms"
        );
    }
    eprintln!(
        "kill -9: {trials} trials, {killed} killed, {resumed} resumed an unfinished run, uninterrupted apply {duration:?}"
    );
}

/// The lab user this test creates (and removes), so that the shared lab's seeded users are
/// never changed: the field story's shape, on its own object.
const LAB_USER_NAME: &str = "hm.apply.story";

fn lab_user_dn(base_dn: &str) -> String {
    format!("CN=Hardmatch Apply Story,OU=Sales,OU=Staff,OU=Corp,{base_dn}")
}

/// Adds (`create`) or removes the lab user with ldap3 over LDAPS, verified against the lab CA.
fn lab_user(lab: &crate::support::Lab, create: bool) {
    use std::collections::HashSet;
    use std::sync::Arc;

    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;

    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&lab.ca_cert).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let settings = ldap3::LdapConnSettings::new().set_config(Arc::new(config));
    let dn = lab_user_dn(&lab.base_dn);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (connection, mut ldap) = ldap3::LdapConnAsync::with_settings(settings, &lab.ldaps_url)
            .await
            .unwrap();
        tokio::spawn(async move { connection.drive().await });
        ldap.simple_bind(&lab.bind_dn, &lab.password)
            .await
            .unwrap()
            .success()
            .unwrap();
        // A leftover from an interrupted run goes first.
        let _ = ldap.delete(&dn).await;
        if create {
            let set = |values: &[&str]| -> HashSet<String> {
                values.iter().map(|value| (*value).to_owned()).collect()
            };
            let upn = format!("{LAB_USER_NAME}@fabrikam.com");
            let attributes = vec![
                (
                    "objectClass".to_owned(),
                    set(&["top", "person", "organizationalPerson", "user"]),
                ),
                ("sAMAccountName".to_owned(), set(&[LAB_USER_NAME])),
                ("userPrincipalName".to_owned(), set(&[&upn])),
                ("displayName".to_owned(), set(&["Hardmatch Apply Story"])),
                ("mail".to_owned(), set(&[&upn])),
                (
                    "proxyAddresses".to_owned(),
                    set(&[
                        &format!("SMTP:{upn}"),
                        &format!("smtp:{LAB_USER_NAME}@contoso.com"),
                    ]),
                ),
            ];
            ldap.add(&dn, attributes).await.unwrap().success().unwrap();
        }
        let _ = ldap.unbind().await;
    });
}

/// The field story on a real DC: the first cycle duplicates the lab user, and `apply`
/// (LDAP write of the UPN, delete, purge, ImmutableID, the emulator's cycle reading the DC)
/// takes it to linked, as `verify` confirms.
#[test]
fn apply_links_a_lab_user_end_to_end_against_the_dc_and_the_emulator() {
    let Some(lab) = crate::support::Lab::from_environment() else {
        return;
    };
    lab_user(&lab, true);
    let directory = tempfile::tempdir().unwrap();
    // The tenant: the lab fixture's licensed account, renamed for this user.
    let mut tenant: Value =
        serde_json::from_str(&std::fs::read_to_string(lab_fixture()).unwrap()).unwrap();
    let account = &mut tenant["users"][0];
    account["userPrincipalName"] = json!(format!("{LAB_USER_NAME}@contoso.com"));
    account["mail"] = json!(format!("{LAB_USER_NAME}@contoso.com"));
    account["mailNickname"] = json!(LAB_USER_NAME);
    account["displayName"] = json!("Hardmatch Apply Story");
    account["proxyAddresses"] = json!([format!("SMTP:{LAB_USER_NAME}@contoso.com")]);
    let fixture = directory.path().join("tenant.json");
    std::fs::write(&fixture, tenant.to_string()).unwrap();
    let emulator = EmulatorProcess::start(&["--fixture", fixture.to_str().unwrap()]);
    let dn = lab_user_dn(&lab.base_dn);
    let ad_flags = lab.source_flags_under(&dn);
    let tenant = tenant_flags(&emulator.url);
    let lab_run = |arguments: Vec<String>| {
        lab.command()
            .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
            .args(arguments)
            .output()
            .unwrap()
    };

    // 1. The first cycle, from the DC: a duplicate on the initial domain.
    let mut arguments = strings(&["sync", "--engine", "emulator", "--wait", "--timeout", "30"]);
    arguments.extend(ad_flags.clone());
    arguments.extend(tenant.clone());
    let output = lab_run(arguments);
    assert!(output.status.success(), "{}", render(&output));

    // 2. The plan, live from the DC and Graph.
    let plan = directory.path().join("plan.json");
    let mut arguments = strings(&["plan", "--user", &format!("{LAB_USER_NAME}@fabrikam.com")]);
    arguments.extend(ad_flags.clone());
    arguments.extend(tenant.clone());
    arguments.extend(["-o".to_owned(), plan.display().to_string()]);
    let output = lab_run(arguments);
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));

    // 3. Apply, with the DC as the directory and the emulator's cycle reading it.
    let workspace = directory.path().join("ws").display().to_string();
    let mut arguments = strings(&[
        "apply",
        plan.to_str().unwrap(),
        "--yes",
        "--allow-purge",
        "--sync-engine",
        "emulator",
        "--workspace",
        &workspace,
    ]);
    arguments.extend(ad_flags.clone());
    arguments.extend(tenant.clone());
    let output = lab_run(arguments);
    let result = std::panic::catch_unwind(|| {
        assert!(output.status.success(), "{}", render(&output));
        // The UPN went to the DC through the guarded LDAP writer.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr
                .lines()
                .any(|line| line.contains("ad_set_upn") && line.contains("succeeded")),
            "{stderr}"
        );
        // 4. Verify: linked.
        let mut arguments = strings(&["verify", plan.to_str().unwrap(), "--json"]);
        arguments.extend(tenant.clone());
        let output = lab_run(arguments);
        assert!(output.status.success(), "{}", render(&output));
        let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(verdict["status"], "linked", "{verdict:#}");
        assert_eq!(verdict["target_id"], REAL_ACCOUNT_ID);
    });
    lab_user(&lab, false);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
