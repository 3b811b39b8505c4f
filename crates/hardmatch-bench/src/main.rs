//! `hardmatch-bench`: generate synthetic directories and run the benchmark suite.
//!
//! Data (summaries as JSON) goes to stdout, progress to stderr, so runs can be piped
//! and timed by `/usr/bin/time` without the two mixing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hardmatch_bench::generate::{self, Options};
use hardmatch_bench::output;
use hardmatch_bench::parse::{self, Mode};
use hardmatch_bench::rates::Rates;
use hardmatch_bench::{apply_rate, bench, footprint};

#[derive(Parser)]
#[command(name = "hardmatch-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write ad.json (AD snapshot), tenant.json (tenant snapshot and emulator fixture) and
    /// ad.ldif (for the Samba lab) from a seed.
    Gen(GenArgs),
    /// Parse an AD snapshot and a tenant snapshot into the core types and report timings.
    Parse(ParseArgs),
    /// Parse both snapshots and report where their memory goes, per AD and cloud user pair,
    /// with what two arena layouts would take.
    Footprint(FootprintArgs),
    /// Run the benchmark suite and rewrite docs/BENCHMARKS.md (normally via scripts/bench).
    Bench(bench::BenchArgs),
    /// One bulk-apply run against the emulator's write quota (the suite runs it).
    #[command(hide = true)]
    ApplyRate(apply_rate::ApplyRateArgs),
}

#[derive(Args)]
struct GenArgs {
    /// The same seed always gives byte-identical files.
    #[arg(long)]
    seed: u64,
    /// Number of AD users (1000 to 1000000 is the intended range).
    #[arg(long)]
    users: usize,
    /// Where the three files go.
    #[arg(long, default_value = "target/bench-data")]
    out_dir: PathBuf,
    /// The AD domain's base DN; the Samba lab's by default.
    #[arg(long, default_value = generate::DEFAULT_BASE_DN)]
    base_dn: String,
    /// The snapshot time (UTC); every generated timestamp is derived from it.
    #[arg(long, default_value = generate::DEFAULT_TAKEN_AT)]
    taken_at: String,
    #[command(flatten)]
    rates: RateArgs,
}

/// Shares of the AD users; see `Rates` for what each category holds.
#[derive(Args)]
struct RateArgs {
    /// Synced users joined to their cloud user.
    #[arg(long, default_value_t = Rates::default().linked)]
    linked_rate: f64,
    /// Licensed cloud-only accounts with the same UPN (soft-match candidates).
    #[arg(long, default_value_t = Rates::default().soft_match)]
    soft_match_rate: f64,
    /// Sync-created duplicates with a placeholder UPN next to the licensed real account.
    #[arg(long, default_value_t = Rates::default().duplicate)]
    duplicate_rate: f64,
    /// Recycle-bin users holding the AD user's ImmutableID.
    #[arg(long, default_value_t = Rates::default().recycle_bin)]
    recycle_bin_rate: f64,
    /// Active licensed users holding the AD user's ImmutableID under an old UPN.
    #[arg(long, default_value_t = Rates::default().licensed_holder)]
    licensed_holder_rate: f64,
    /// Another cloud user holds the AD user's primary SMTP address.
    #[arg(long, default_value_t = Rates::default().proxy_conflict)]
    proxy_conflict_rate: f64,
    /// The cloud target holds an admin role (assigned or PIM-eligible).
    #[arg(long, default_value_t = Rates::default().admin)]
    admin_rate: f64,
    /// Cloud users holding an ImmutableID no AD user has (share of the AD user count).
    #[arg(long, default_value_t = Rates::default().orphan)]
    orphan_rate: f64,
    /// Unrelated cloud-only users (share of the AD user count).
    #[arg(long, default_value_t = Rates::default().cloud_only)]
    cloud_only_rate: f64,
    /// AD users whose UPN suffix (corp.local) the tenant has not verified.
    #[arg(long, default_value_t = Rates::default().unverified_suffix)]
    unverified_suffix_rate: f64,
    /// Disabled AD users.
    #[arg(long, default_value_t = Rates::default().disabled)]
    disabled_rate: f64,
    /// AD users with mS-DS-ConsistencyGuid set.
    #[arg(long, default_value_t = Rates::default().consistency_guid)]
    consistency_guid_rate: f64,
}

impl From<RateArgs> for Rates {
    fn from(arguments: RateArgs) -> Self {
        Self {
            linked: arguments.linked_rate,
            soft_match: arguments.soft_match_rate,
            duplicate: arguments.duplicate_rate,
            recycle_bin: arguments.recycle_bin_rate,
            licensed_holder: arguments.licensed_holder_rate,
            proxy_conflict: arguments.proxy_conflict_rate,
            admin: arguments.admin_rate,
            orphan: arguments.orphan_rate,
            cloud_only: arguments.cloud_only_rate,
            unverified_suffix: arguments.unverified_suffix_rate,
            disabled: arguments.disabled_rate,
            consistency_guid: arguments.consistency_guid_rate,
        }
    }
}

#[derive(Args)]
struct ParseArgs {
    #[arg(long)]
    ad: PathBuf,
    #[arg(long)]
    tenant: PathBuf,
    #[arg(long, value_enum, default_value = "typed")]
    mode: Mode,
}

#[derive(Args)]
struct FootprintArgs {
    #[arg(long)]
    ad: PathBuf,
    #[arg(long)]
    tenant: PathBuf,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Gen(arguments) => {
            let options = Options {
                seed: arguments.seed,
                users: arguments.users,
                rates: arguments.rates.into(),
                base_dn: arguments.base_dn,
                taken_at: arguments.taken_at,
            };
            let started = std::time::Instant::now();
            let summary = generate::generate_files(&options, &arguments.out_dir)?;
            output::message(&format!(
                "wrote {} AD and {} cloud users to {} in {:.2} s",
                summary.ad_users,
                summary.cloud_users,
                arguments.out_dir.display(),
                started.elapsed().as_secs_f64()
            ));
            output::data(&serde_json::to_string(&summary)?)?;
        }
        Command::Parse(arguments) => {
            let report = parse::parse_snapshots(&arguments.ad, &arguments.tenant, arguments.mode)?;
            output::data(&serde_json::to_string(&report)?)?;
        }
        Command::Footprint(arguments) => {
            let footprint = footprint::measure_files(&arguments.ad, &arguments.tenant)?;
            output::data(&serde_json::to_string(&footprint)?)?;
        }
        Command::Bench(arguments) => bench::run(&arguments)?,
        Command::ApplyRate(arguments) => apply_rate::run(&arguments)?,
    }
    Ok(())
}
