//! Issue #9's secret hygiene: every command runs at `-vv` with known secrets — the client
//! secret from the environment, the bind password from the environment, a file and the
//! plain flag — against the emulator and the Samba lab, and nothing it prints or writes
//! (stdout, stderr, snapshots, plans, the journal's SQLite file with its WAL) holds a secret
//! or an access token the emulator issued.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{EmulatorProcess, Lab, hardmatch, render};

const TENANT_ID: &str = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
/// Distinctive, so that a hit cannot be a coincidence.
const CLIENT_SECRET: &str = "Kq7~client-secret-under-test~9Zx";

/// Every issued access token is a JWT, and every JWT starts with the Base64 of `{"`.
const JWT_PREFIX: &str = "eyJ";

/// The files the test itself writes to hand secrets in; everything else was written by
/// hardmatch.
const INPUTS: [&str; 2] = ["bind-password", "fixture.json"];

struct Scan {
    secrets: Vec<String>,
    findings: Vec<String>,
}

impl Scan {
    fn output(&mut self, what: &str, output: &Output) {
        self.bytes(&format!("{what} stdout"), &output.stdout);
        self.bytes(&format!("{what} stderr"), &output.stderr);
    }

    fn bytes(&mut self, place: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                self.findings
                    .push(format!("{place} holds the secret `{secret}`"));
            }
        }
        if text.contains(JWT_PREFIX) {
            self.findings.push(format!("{place} holds a JWT"));
        }
    }

    /// Every file under `directory`, raw bytes: the journal, its WAL, snapshots, plans.
    fn files(&mut self, directory: &Path) -> usize {
        let mut count = 0;
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                count += self.files(&path);
            } else if path
                .file_name()
                .is_some_and(|name| !INPUTS.iter().any(|input| name == *input))
            {
                self.bytes(&path.display().to_string(), &std::fs::read(&path).unwrap());
                count += 1;
            }
        }
        count
    }
}

fn fixture_with_secret(directory: &Path) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story-lab/tenant.json");
    let mut fixture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    fixture["apps"][0]["client_secret"] = CLIENT_SECRET.into();
    let written = directory.join("fixture.json");
    std::fs::write(&written, serde_json::to_vec(&fixture).unwrap()).unwrap();
    written
}

#[test]
fn no_command_prints_or_writes_a_secret_or_a_token() {
    let Some(lab) = Lab::from_environment() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let work = directory.path();
    let emulator =
        EmulatorProcess::start(&["--fixture", fixture_with_secret(work).to_str().unwrap()]);
    std::fs::write(work.join("bind-password"), format!("{}\n", lab.password)).unwrap();
    let mut scan = Scan {
        secrets: vec![CLIENT_SECRET.to_owned(), lab.password.clone()],
        findings: Vec::new(),
    };
    let tenant: Vec<String> = [
        "--tenant-id",
        TENANT_ID,
        "--client-id",
        CLIENT_ID,
        "--client-secret-env",
        "HARDMATCH_TEST_CLIENT_SECRET",
        "--authority-url",
        &emulator.url,
        "--graph-url",
        &emulator.url,
    ]
    .iter()
    .map(|flag| (*flag).to_owned())
    .collect();
    let sales = format!("OU=Sales,OU=Staff,OU=Corp,{}", lab.base_dn);
    let ldap = |password: &[&str]| -> Vec<String> {
        let mut flags: Vec<String> = [
            "--ldap-url",
            &lab.ldaps_url,
            "--base-dn",
            &sales,
            "--bind-dn",
            &lab.bind_dn,
            "--ca-cert",
            &lab.ca_cert,
        ]
        .iter()
        .map(|flag| (*flag).to_owned())
        .collect();
        flags.extend(password.iter().map(|flag| (*flag).to_owned()));
        flags
    };
    let run = |scan: &mut Scan, what: &str, arguments: &[String]| -> Output {
        let output = hardmatch()
            .current_dir(work)
            .env("HARDMATCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
            .env("HARDMATCH_TEST_BIND_PASSWORD", &lab.password)
            .env("RUST_LOG", "trace")
            .arg("-vv")
            .args(arguments)
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("panicked"),
            "{what}: {}",
            render(&output)
        );
        scan.output(what, &output);
        output
    };
    let with = |first: &[&str], rest: &[Vec<String>]| -> Vec<String> {
        let mut arguments: Vec<String> = first.iter().map(|item| (*item).to_owned()).collect();
        for part in rest {
            arguments.extend(part.iter().cloned());
        }
        arguments
    };

    // AD, with the bind password from the environment, a file, and the plain flag.
    let output = run(
        &mut scan,
        "snapshot ad (password from the environment)",
        &with(
            &["snapshot", "ad", "-o", "ad.json"],
            &[ldap(&[
                "--bind-password-env",
                "HARDMATCH_TEST_BIND_PASSWORD",
            ])],
        ),
    );
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let output = run(
        &mut scan,
        "snapshot ad (password from a file)",
        &with(
            &["snapshot", "ad", "-o", "ad-from-file.json"],
            &[ldap(&["--bind-password-file", "bind-password"])],
        ),
    );
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    // The plain flag is the one place the password is on the command line: it must warn,
    // and still never echo it.
    let plain = hardmatch()
        .current_dir(work)
        .args(["-vv", "snapshot", "ad", "-o", "ad-plain.json"])
        .args(ldap(&["--bind-password", &lab.password]))
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0), "{}", render(&plain));
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        stderr.contains("warning: --bind-password puts the password in the process list"),
        "{stderr}"
    );
    scan.output("snapshot ad (plain --bind-password)", &plain);

    // The tenant, with the client secret from the environment.
    let output = run(
        &mut scan,
        "snapshot tenant",
        &with(
            &["snapshot", "tenant", "-o", "tenant.json"],
            std::slice::from_ref(&tenant),
        ),
    );
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    let sync = with(
        &[
            "sync",
            "--engine",
            "emulator",
            "--wait",
            "--timeout",
            "30",
            "--ad-snapshot",
            "ad.json",
        ],
        std::slice::from_ref(&tenant),
    );
    run(&mut scan, "sync", &sync);
    run(
        &mut scan,
        "status (live tenant, live AD)",
        &with(
            &["status"],
            &[
                tenant.clone(),
                ldap(&["--bind-password-env", "HARDMATCH_TEST_BIND_PASSWORD"]),
            ],
        ),
    );
    let output = run(
        &mut scan,
        "plan",
        &with(
            &[
                "plan",
                "--all-safe",
                "--ad-snapshot",
                "ad.json",
                "-o",
                "plan.json",
            ],
            std::slice::from_ref(&tenant),
        ),
    );
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "{}",
        render(&output)
    );
    run(&mut scan, "show", &with(&["show", "plan.json"], &[]));
    run(
        &mut scan,
        "show --powershell",
        &with(&["show", "--powershell", "plan.json"], &[]),
    );
    let output = run(
        &mut scan,
        "apply",
        &with(
            &[
                "apply",
                "plan.json",
                "--yes",
                "--allow-purge",
                "--sync-engine",
                "emulator",
                "--workspace",
                "workspace",
                "--ad-snapshot",
                "ad.json",
            ],
            std::slice::from_ref(&tenant),
        ),
    );
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    run(
        &mut scan,
        "verify",
        &with(
            &["verify", "plan.json", "--workspace", "workspace"],
            std::slice::from_ref(&tenant),
        ),
    );
    let history = run(
        &mut scan,
        "history",
        &with(&["history", "--json", "--workspace", "workspace"], &[]),
    );
    let first_run = String::from_utf8_lossy(&history.stdout)
        .lines()
        .find_map(|line| {
            serde_json::from_str::<Value>(line).ok()?["id"]
                .as_str()
                .map(str::to_owned)
        });
    if let Some(run_id) = first_run {
        run(
            &mut scan,
            "undo",
            &with(
                &[
                    "undo",
                    &run_id,
                    "--yes",
                    "--sync-engine",
                    "emulator",
                    "--workspace",
                    "workspace",
                    "--ad-snapshot",
                    "ad.json",
                ],
                std::slice::from_ref(&tenant),
            ),
        );
    }
    run(
        &mut scan,
        "completions",
        &with(&["completions", "bash"], &[]),
    );
    run(
        &mut scan,
        "convert",
        &with(&["convert", "e4ToILwDyEOpOxdbtIkFig=="], &[]),
    );

    // The scanner itself must see a secret where one is: the fixture handed it in.
    let mut probe = Scan {
        secrets: scan.secrets.clone(),
        findings: Vec::new(),
    };
    probe.bytes(
        "fixture",
        &std::fs::read(work.join("fixture.json")).unwrap(),
    );
    probe.bytes("a token", b"Authorization: Bearer eyJ0eXAiOiJKV1QifQ");
    assert_eq!(probe.findings.len(), 2, "{:?}", probe.findings);

    let files = scan.files(work);
    let journal_files = std::fs::read_dir(work.join("workspace"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert!(files >= 6, "only {files} files were written to scan");
    assert!(journal_files > 0, "apply wrote no workspace to scan");
    assert!(
        scan.findings.is_empty(),
        "secrets or tokens leaked:\n{}",
        scan.findings.join("\n")
    );
}

#[test]
fn a_secret_in_the_configuration_file_is_refused() {
    // Profiles name where secrets live, never the secrets: a pasted secret is an error
    // rather than a key silently ignored.
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("hardmatch.toml"),
        format!("[profiles.contoso]\nclient_secret = \"{CLIENT_SECRET}\"\n"),
    )
    .unwrap();
    let output = hardmatch()
        .current_dir(directory.path())
        .args([
            "status",
            "--ad-snapshot",
            "a.json",
            "--tenant-snapshot",
            "t.json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `client_secret`"), "{stderr}");
    assert!(
        !stderr.contains(CLIENT_SECRET),
        "the error quotes the secret: {stderr}"
    );
}
