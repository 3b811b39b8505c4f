//! The `hardmatch` binary: parse arguments, set up output, run one command, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    hardmatch::run(std::env::args_os())
}
