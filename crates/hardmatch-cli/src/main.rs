//! The `hardmatch` binary: parse arguments, set up output, run one command, exit.

use std::process::ExitCode;

/// A million-user run allocates tens of millions of small strings; mimalloc spends
/// measurably less time on them than the system allocator (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    hardmatch::run(std::env::args_os())
}
