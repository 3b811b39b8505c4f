//! Running the real binary and rendering what a user would see, for snapshots.

use std::process::Output;

use assert_cmd::Command;

/// The `hardmatch` binary with a predictable environment: no colour, no inherited config.
pub(crate) fn hardmatch() -> Command {
    let mut command = Command::cargo_bin("hardmatch").expect("the hardmatch binary is built");
    command.env("NO_COLOR", "1").env_remove("RUST_LOG");
    command
}

/// Exit code, stdout and stderr as one text, the way a snapshot should show them.
pub(crate) fn render(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or("signal".to_owned(), |code| code.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}
