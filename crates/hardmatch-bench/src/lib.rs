//! hardmatch's scale tooling: a deterministic generator of matching AD and Entra ID
//! directories (1k to 1M users), and the benchmark suite that records
//! `docs/BENCHMARKS.md`.
//!
//! Benchmarks live here and never in timed tests: the tests of this crate check only that
//! generated data is correct and reproducible; the figures come from `scripts/bench`.

pub mod ad_read;
pub mod apply_rate;
pub mod bench;
pub mod calendar;
mod emulator_process;
pub mod footprint;
pub mod generate;
pub mod ldif;
pub mod manual_procedure;
pub mod names;
pub mod output;
pub mod parse;
pub mod rates;
pub mod status_plan;
pub mod tenant_read;
