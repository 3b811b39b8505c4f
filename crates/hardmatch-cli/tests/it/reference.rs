//! Help, completions and the manual page: what people read before they trust the tool.

use crate::support::{hardmatch, render};

#[test]
fn top_level_help() {
    let output = hardmatch().arg("--help").output().unwrap();
    insta::assert_snapshot!(render(&output));
}

#[test]
fn convert_help_has_examples() {
    let output = hardmatch().args(["convert", "--help"]).output().unwrap();
    insta::assert_snapshot!(render(&output));
}

#[test]
fn completions_and_manual_cover_every_subcommand() {
    let bash = hardmatch().args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success());
    let bash = String::from_utf8(bash.stdout).unwrap();
    let manual = hardmatch().arg("man").output().unwrap();
    assert!(manual.status.success());
    let manual = String::from_utf8(manual.stdout).unwrap();
    assert!(manual.starts_with(".ie"), "not roff: {}", &manual[..40]);
    for subcommand in ["convert", "snapshot", "completions"] {
        assert!(
            bash.contains(subcommand),
            "bash completion lacks {subcommand}"
        );
        assert!(manual.contains(subcommand), "manual lacks {subcommand}");
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let output = hardmatch().args(["completions", shell]).output().unwrap();
        assert!(
            output.status.success() && !output.stdout.is_empty(),
            "{shell}"
        );
    }
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let output = hardmatch().arg("hardlink").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("unrecognized subcommand 'hardlink'"),
        "{stderr}"
    );
}
