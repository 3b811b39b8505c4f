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

/// Every subcommand path, from the CLI definition itself, so a new subcommand is checked
/// without anyone remembering to add it here.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, prefix: &[String], paths: &mut Vec<Vec<String>>) {
        for subcommand in command.get_subcommands() {
            let name = subcommand.get_name().to_owned();
            if name == "help" {
                continue;
            }
            let mut path = prefix.to_vec();
            path.push(name);
            paths.push(path.clone());
            walk(subcommand, &path, paths);
        }
    }
    use clap::CommandFactory as _;
    let mut paths = Vec::new();
    walk(&hardmatch::args::Cli::command(), &[], &mut paths);
    paths
}

#[test]
fn every_subcommand_help_has_examples() {
    let paths = subcommand_paths();
    // The walk itself must find nested subcommands, or the check below proves little.
    assert!(paths.contains(&vec!["snapshot".to_owned(), "tenant".to_owned()]));
    assert!(paths.contains(&vec!["emulator".to_owned(), "sync".to_owned()]));
    let mut without_examples = Vec::new();
    for path in &paths {
        let output = hardmatch().args(path).arg("--help").output().unwrap();
        assert!(output.status.success(), "{path:?}: {}", render(&output));
        let help = String::from_utf8(output.stdout).unwrap();
        if !help.contains("\nExamples:\n") {
            without_examples.push(path.join(" "));
        }
    }
    assert!(
        without_examples.is_empty(),
        "--help without an Examples section: {without_examples:?}"
    );
}

/// What people read before running the commands that decide and change things.
#[test]
fn main_commands_help() {
    for command in ["status", "plan", "show", "apply", "sync", "verify"] {
        let output = hardmatch().args([command, "--help"]).output().unwrap();
        insta::assert_snapshot!(format!("{command}_help"), render(&output));
    }
}

/// `hardmatch … | head` must end quietly: no error, no panic message, exit status 0.
#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    use std::io::Read as _;
    // The PowerShell completion script is larger than a pipe's buffer (64 KiB on Linux), so
    // writing it cannot finish before the reader has gone.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
        .args(["completions", "powershell"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0_u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", render(&output));
    assert!(output.stderr.is_empty(), "{}", render(&output));
}
