//! `hardmatch convert`: the forms admins paste, and the errors they get for typos.

use crate::support::{hardmatch, render};

#[test]
fn guid_to_every_form() {
    let output = hardmatch()
        .args(["convert", "20e8847b-03bc-43c8-a93b-175bb489058a"])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(&output));
}

#[test]
fn immutable_id_back_to_guid_as_json() {
    let output = hardmatch()
        .args(["convert", "--json", "e4ToILwDyEOpOxdbtIkFig=="])
        .output()
        .unwrap();
    assert!(output.status.success());
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["guid"], "20e8847b-03bc-43c8-a93b-175bb489058a");
    assert_eq!(line["kind"], "immutable_id");
    assert_eq!(line["hex"], "7b84e820bc03c843a93b175bb489058a");
    let keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "input",
        "kind",
        "guid",
        "immutable_id",
        "hex",
        "ldap_filter",
    ] {
        assert!(keys.contains(&key), "missing key {key} in {keys:?}");
    }
}

#[test]
fn every_reference_vector_through_the_binary() {
    // entra-matching.md §2.
    let vectors = [
        (
            "9c5923e9-de52-33ea-88de-7ebc8633b9cc",
            "6SNZnFLe6jOI3n68hjO5zA==",
        ),
        (
            "88666888-0101-1111-bbbb-1234567890ab",
            "iGhmiAEBERG7uxI0VniQqw==",
        ),
        (
            "d749534e-9f86-44a7-b572-6be7b53b2ca9",
            "TlNJ14afp0S1cmvntTssqQ==",
        ),
        (
            "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "qgCqABG7IszdM0TuRO5E7g==",
        ),
        (
            "00112233-4455-6677-8899-aabbccddeeff",
            "MyIRAFVEd2aImaq7zN3u/w==",
        ),
        (
            "2d8b0ce6-aa32-4f31-a6e8-88343e6244a5",
            "5gyLLTKqMU+m6Ig0PmJEpQ==",
        ),
    ];
    let mut command = hardmatch();
    command.args(["convert", "--json"]);
    for (guid, immutable_id) in vectors {
        command.args([guid, immutable_id]);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", render(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    for (pair, (guid, immutable_id)) in lines.chunks(2).zip(vectors) {
        for line in pair {
            assert_eq!(line["guid"], guid);
            assert_eq!(line["immutable_id"], immutable_id);
        }
    }
}

#[test]
fn bad_values_are_reported_and_the_rest_still_converted() {
    let output = hardmatch()
        .args([
            "convert",
            "20e8847b-03bc-43c8-a93b-175bb48905",
            "e4ToILwDyEOpOxdbtIkFig==",
            "e4ToILwDyEOpOxdbtIkFig=",
        ])
        .output()
        .unwrap();
    insta::assert_snapshot!(render(&output));
}

#[test]
fn stdin_takes_a_pasted_export_column() {
    let export = "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n\
                  \"ObjectGUID\"\r\n\
                  \"20e8847b-03bc-43c8-a93b-175bb489058a\"\r\n\
                  \r\n\
                  \"2d8b0ce6-aa32-4f31-a6e8-88343e6244a5\"\r\n";
    let output = hardmatch()
        .args(["convert", "--json", "-"])
        .write_stdin(export)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", render(&output));
    let ids: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["immutable_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        ["e4ToILwDyEOpOxdbtIkFig==", "5gyLLTKqMU+m6Ig0PmJEpQ=="]
    );
}

#[test]
fn custom_anchor_is_shown_as_text() {
    let output = hardmatch()
        .args(["convert", "--json", "EMP-004211"])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["kind"], "custom");
    assert_eq!(line["immutable_id"], "EMP-004211");
    assert!(line["guid"].is_null());
}

#[test]
fn broken_pipe_exits_quietly() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
        .args(["convert", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close stdout before the program writes, as `| head -0` would.
    drop(child.stdout.take());
    let values = "20e8847b-03bc-43c8-a93b-175bb489058a\n".repeat(2000);
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(values.as_bytes());
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}, stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
}
