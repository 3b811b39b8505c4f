//! The hardmatch command line: a thin layer over the library crates.
//!
//! Arguments are parsed once into [`args::Cli`]; each command is one function in
//! [`commands`] that receives resolved values and a [`printer::Printer`]. Nothing else in
//! the binary writes to the terminal, and no command decides its own exit code format:
//! [`ExitStatus`] is the contract scripts rely on.

pub mod args;
pub mod commands;
pub mod error;
pub mod output;
pub mod printer;
pub mod progress;
pub mod settings;
pub mod sources;
pub mod table;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;

use crate::args::Cli;
use crate::printer::Printer;
use crate::settings::Environment;
use crate::sources::Context;

/// Exit codes are part of the interface: automation branches on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, nothing wrong (for `plan`: no changes needed).
    Success,
    /// Something failed; stderr says what and what to do next.
    Failure,
    /// `plan`: the plan has changes to review.
    Changes,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Changes => ExitCode::from(2),
        }
    }
}

/// Runs hardmatch with the given command line and returns the process exit code.
pub fn run(arguments: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(arguments) {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout and usage errors to stderr itself.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = cli.global.color.enabled();
    let printer = Printer::new(cli.global.quiet, color);
    printer::init_tracing(cli.global.verbose, color);
    let environment = Environment::from_process();
    let result = settings::load_profile(
        cli.global.config.as_deref(),
        cli.global.profile.as_deref(),
        &environment,
    )
    .and_then(|profile| {
        let context = Context {
            printer: printer.clone(),
            environment,
            profile,
        };
        commands::dispatch(cli.command, &context)
    });
    match result {
        Ok(status) => status.into(),
        Err(error) if error::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            ExitStatus::Failure.into()
        }
    }
}
