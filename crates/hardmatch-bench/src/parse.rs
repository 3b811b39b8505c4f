//! Reads snapshots into the core types, the first step of every status and plan run, so
//! that its cost can be measured on its own (`hardmatch-bench parse`).
//!
//! The `skim` mode parses the same bytes without building anything (serde's
//! `IgnoredAny`): the floor any JSON reader pays, and the baseline the typed parse is
//! reported against.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::tenant::TenantSnapshot;
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
    pub read_seconds: f64,
    pub parse_seconds: f64,
}

/// Reads and parses both snapshots. The typed values are dropped only after both are
/// parsed, so the peak memory is that of holding a full AD and tenant at once, as a plan
/// does.
pub fn parse_snapshots(ad: &Path, tenant: &Path, mode: Mode) -> anyhow::Result<ParseReport> {
    let mut read = Duration::ZERO;
    let mut parse = Duration::ZERO;
    let mut bytes = 0u64;
    let mut load = |path: &Path| -> anyhow::Result<Vec<u8>> {
        let started = Instant::now();
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        read += started.elapsed();
        bytes += content.len() as u64;
        Ok(content)
    };
    let ad_bytes = load(ad)?;
    let started = Instant::now();
    let report = match mode {
        Mode::Typed => {
            let ad_snapshot: AdSnapshot = sonic_rs::from_slice(&ad_bytes)
                .with_context(|| format!("{} is not an AD snapshot", ad.display()))?;
            drop(ad_bytes);
            parse += started.elapsed();
            let tenant_bytes = load(tenant)?;
            let started = Instant::now();
            let tenant_snapshot: TenantSnapshot = sonic_rs::from_slice(&tenant_bytes)
                .with_context(|| format!("{} is not a tenant snapshot", tenant.display()))?;
            parse += started.elapsed();
            ParseReport {
                mode: "typed",
                bytes,
                ad_users: Some(ad_snapshot.users.len()),
                cloud_users: Some(tenant_snapshot.users.len()),
                read_seconds: read.as_secs_f64(),
                parse_seconds: parse.as_secs_f64(),
            }
        }
        Mode::Skim => {
            let _: IgnoredAny = sonic_rs::from_slice(&ad_bytes)
                .with_context(|| format!("{} is not JSON", ad.display()))?;
            drop(ad_bytes);
            parse += started.elapsed();
            let tenant_bytes = load(tenant)?;
            let started = Instant::now();
            let _: IgnoredAny = sonic_rs::from_slice(&tenant_bytes)
                .with_context(|| format!("{} is not JSON", tenant.display()))?;
            parse += started.elapsed();
            ParseReport {
                mode: "skim",
                bytes,
                ad_users: None,
                cloud_users: None,
                read_seconds: read.as_secs_f64(),
                parse_seconds: parse.as_secs_f64(),
            }
        }
    };
    Ok(report)
}
