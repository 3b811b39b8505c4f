//! The one path from hardmatch to the terminal.
//!
//! stdout carries data (tables, JSON, CSV) and nothing else, so it can be piped; stderr
//! carries messages, warnings, errors and progress. Output is readable without colour, and
//! `--quiet` silences everything on stderr except warnings and errors.

use std::io::{self, Write as _};

use crate::error;

#[derive(Clone, Debug)]
pub struct Printer {
    quiet: bool,
    color: bool,
}

impl Printer {
    pub fn new(quiet: bool, color: bool) -> Self {
        Self { quiet, color }
    }

    /// Progress bars only make sense for a person watching a terminal.
    pub fn shows_progress(&self) -> bool {
        use std::io::IsTerminal as _;
        !self.quiet && io::stderr().is_terminal()
    }

    /// Writes data to stdout. A broken pipe surfaces as an error the caller propagates.
    pub fn data(&self, text: &str) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    }

    /// A line of data on stdout.
    pub fn data_line(&self, line: &str) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(line.as_bytes())?;
        stdout.write_all(b"\n")?;
        stdout.flush()
    }

    /// A progress or status message on stderr, hidden by `--quiet`.
    pub fn status(&self, message: &str) {
        if !self.quiet {
            self.stderr_line(message);
        }
    }

    /// A message the user must see even with `--quiet`, such as a device-code sign-in prompt.
    pub fn notice(&self, message: &str) {
        self.stderr_line(message);
    }

    pub fn warning(&self, message: &str) {
        let label = self.paint("warning", "33");
        self.stderr_line(&format!("{label}: {message}"));
    }

    /// A warning and the user's next step, when the command goes on without what failed.
    pub fn warning_with_hint(&self, message: &str, hint: &str) {
        self.warning(message);
        self.stderr_line(&format!("{}: {hint}", self.paint("hint", "36")));
    }

    /// An error and its causes, then its hints.
    pub fn error(&self, error: &anyhow::Error) {
        let label = self.paint("error", "31");
        let mut text = format!("{label}: {error}");
        for cause in error.chain().skip(1) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        for hint in error::hints(error) {
            text.push_str(&format!("\n{}: {hint}", self.paint("hint", "36")));
        }
        self.stderr_line(&text);
    }

    /// An error for one item of many, when the command goes on with the others.
    pub fn item_error(&self, message: &str, hint: &str) {
        let label = self.paint("error", "31");
        let hint_label = self.paint("hint", "36");
        self.stderr_line(&format!("{label}: {message}\n{hint_label}: {hint}"));
    }

    fn paint(&self, text: &str, ansi_code: &str) -> String {
        if self.color {
            format!("\x1b[1;{ansi_code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn stderr_line(&self, line: &str) {
        // Nothing useful can be done when stderr itself is gone.
        let _ = writeln!(io::stderr().lock(), "{line}");
    }
}

/// Sends `tracing` output to stderr: warnings by default, more with `-v`/`-vv`;
/// `RUST_LOG` overrides both.
pub fn init_tracing(verbosity: u8, color: bool) {
    let default_directive = match verbosity {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_directive));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}
