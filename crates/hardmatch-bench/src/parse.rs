//! Reads snapshots into the core types, the first step of every status and plan run, so
//! that its cost can be measured on its own (`hardmatch-bench parse`).
//!
//! The `skim` mode parses the same bytes without building anything (serde's
//! `IgnoredAny`): the floor any JSON reader pays, and the baseline the typed parse is
//! reported against.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde::de::IgnoredAny;

/// How far to go with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Into `AdSnapshot` and `TenantSnapshot`.
    Typed,
    /// Syntax only, nothing kept.
    Skim,
}

/// What a parse found and how long its phases took (measured inside the process; the
/// benchmark suite measures the whole process from outside).
#[derive(Clone, Debug, Serialize)]
pub struct ParseReport {
    pub mode: &'static str,
    pub bytes: u64,
    /// Users found, `None` in skim mode.
    pub ad_users: Option<usize>,
    pub cloud_users: Option<usize>,
    /// Reading alone, in skim mode: the typed reader reads and parses in one pass.
    pub read_seconds: Option<f64>,
    pub parse_seconds: f64,
}

/// Reads and parses both snapshots. The typed values are dropped only after both are
/// parsed, so the peak memory is that of holding a full AD and tenant at once, as a plan
/// does.
pub fn parse_snapshots(ad: &Path, tenant: &Path, mode: Mode) -> anyhow::Result<ParseReport> {
    match mode {
        Mode::Typed => parse_typed(ad, tenant),
        Mode::Skim => skim(ad, tenant),
    }
}

/// As `status` and `plan` read their snapshots: with the command line's reader, which
/// parses the users as it reads, the two files at once.
fn parse_typed(ad: &Path, tenant: &Path) -> anyhow::Result<ParseReport> {
    let started = Instant::now();
    let (ad_snapshot, tenant_snapshot) = hardmatch::sources::read_snapshot_pair(ad, tenant)?;
    Ok(ParseReport {
        mode: "typed",
        bytes: file_length(ad)? + file_length(tenant)?,
        ad_users: Some(ad_snapshot.users.len()),
        cloud_users: Some(tenant_snapshot.users.len()),
        read_seconds: None,
        parse_seconds: started.elapsed().as_secs_f64(),
    })
}

fn skim(ad: &Path, tenant: &Path) -> anyhow::Result<ParseReport> {
    let mut read = Duration::ZERO;
    let mut parse = Duration::ZERO;
    let mut bytes = 0u64;
    for path in [ad, tenant] {
        let started = Instant::now();
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        read += started.elapsed();
        bytes += content.len() as u64;
        let started = Instant::now();
        let _: IgnoredAny = sonic_rs::from_slice(&content)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        parse += started.elapsed();
    }
    Ok(ParseReport {
        mode: "skim",
        bytes,
        ad_users: None,
        cloud_users: None,
        read_seconds: Some(read.as_secs_f64()),
        parse_seconds: parse.as_secs_f64(),
    })
}

fn file_length(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}
