//! The binary's only way to the terminal: data to stdout, messages to stderr.
//!
//! The workspace denies the print macros so that nothing prints by accident; a bench tool
//! has to talk, so it does it here, through locked handles, and reports broken pipes as
//! errors instead of panicking.

use std::io::Write;

/// Writes one line of data to stdout.
pub fn data(line: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// Writes one progress or diagnostic message to stderr; a closed stderr is not worth failing
/// a benchmark over.
pub fn message(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ignored = writeln!(stderr, "hardmatch-bench: {line}");
}
