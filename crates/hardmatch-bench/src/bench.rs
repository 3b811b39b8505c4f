//! The benchmark suite behind `scripts/bench`: runs each benchmark whose capability has
//! landed, repeats it, and rewrites `docs/BENCHMARKS.md` with medians, the machine, the
//! command and the date.
//!
//! Every figure is measured from outside the process by `/usr/bin/time` (wall time and
//! peak RSS of the child), so hardmatch and the baselines are measured the same way. Each
//! benchmark pairs hardmatch with a baseline run in the same session, interleaved, so that
//! a busy machine slows both alike and the ratio stays meaningful when bare times do not.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::calendar::Instant;
use crate::output;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// AD user counts for the generator and parse benchmarks (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    pub sizes: Vec<usize>,
    /// Seed for generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scratch space for generated data and outputs (kept under target/, never committed).
    #[arg(long, default_value = "target/bench")]
    pub work_dir: PathBuf,
    /// The document to rewrite.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub output: PathBuf,
    /// The command line to record in the document (scripts/bench passes its own).
    #[arg(long, default_value = "hardmatch-bench bench")]
    pub command: String,
    /// The hardmatch CLI, for the AD read benchmark; skipped when absent.
    #[arg(long, default_value = "target/release/hardmatch")]
    pub hardmatch: PathBuf,
    /// How to name the hardmatch build in the document (default: its `--version`).
    #[arg(long)]
    pub hardmatch_label: Option<String>,
    /// Skip the AD read benchmark even when the lab answers.
    #[arg(long)]
    pub skip_ad_read: bool,
    /// Base DN the AD read benchmark searches (default: OU=Bulk under the lab's base DN,
    /// filled by `scripts/ad-lab seed --bulk N`).
    #[arg(long)]
    pub ad_read_base_dn: Option<String>,
    /// Run only these sections; the others keep the figures the document already has.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Cloud tenant sizes (AD users of the generator) for the tenant read benchmark.
    #[arg(long, value_delimiter = ',', default_value = "50000,100000")]
    pub tenant_read_sizes: Vec<usize>,
    /// Latency the emulator adds to every response in the Graph benchmarks, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// AD users of the tenant the manual-procedure comparison links users in.
    #[arg(long, default_value_t = 50_000)]
    pub manual_tenant_users: usize,
    /// Users the manual-procedure comparison links.
    #[arg(long, default_value_t = 1_000)]
    pub manual_links: usize,
    /// Runs of the manual-procedure comparison (each side takes minutes at 50 ms).
    #[arg(long, default_value_t = 3)]
    pub manual_runs: usize,
    /// Users the manual procedure links while scanning the whole tenant per user, as the
    /// classic guides do (minutes per user at 50k): the first of the links, once; the
    /// document extrapolates the sample's per-user figures to all the links.
    #[arg(long, default_value_t = 25)]
    pub manual_scan_sample: usize,
    /// Python of the Graph SDK venv (scripts/graph-sdk-venv); the comparison is skipped
    /// without it.
    #[arg(long, env = "HARDMATCH_GRAPH_SDK_PYTHON")]
    pub graph_sdk_python: Option<PathBuf>,
}

/// The document's sections, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Generator and snapshot parse.
    Generator,
    StatusPlan,
    AdRead,
    TenantRead,
    ManualProcedure,
    BulkApply,
}

impl BenchArgs {
    /// Whether this run measures `section`.
    pub(crate) fn runs_section(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

/// One process run: wall seconds, peak resident set in KiB, and CPU seconds (user + system).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) wall_seconds: f64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) cpu_seconds: f64,
}

/// The medians of several samples, and the spread of their wall times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Measured {
    pub(crate) wall_seconds: f64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) cpu_seconds: f64,
    pub(crate) fastest_wall_seconds: f64,
    pub(crate) slowest_wall_seconds: f64,
}

impl Measured {
    pub(crate) fn of(samples: &[Sample]) -> Self {
        let walls: Vec<f64> = samples.iter().map(|sample| sample.wall_seconds).collect();
        let rss: Vec<f64> = samples
            .iter()
            .map(|sample| sample.peak_rss_kib as f64)
            .collect();
        let cpu: Vec<f64> = samples.iter().map(|sample| sample.cpu_seconds).collect();
        Self {
            wall_seconds: median(&walls),
            // Medians of whole KiB are whole or halves; the half does not matter.
            peak_rss_kib: median(&rss) as u64,
            cpu_seconds: median(&cpu),
            fastest_wall_seconds: walls.iter().copied().fold(f64::INFINITY, f64::min),
            slowest_wall_seconds: walls.iter().copied().fold(0.0, f64::max),
        }
    }

    pub(crate) fn rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        length if length % 2 == 1 => sorted[length / 2],
        length => (sorted[length / 2 - 1] + sorted[length / 2]) / 2.0,
    }
}

const TIME: &str = "/usr/bin/time";

/// Runs `program args…` under `/usr/bin/time`, with stdout sent to `stdout_to` (or
/// discarded), and returns what it measured.
pub(crate) fn timed(
    program: &Path,
    args: &[String],
    stdout_to: Option<&Path>,
    work: &Path,
) -> anyhow::Result<Sample> {
    timed_accepting(program, args, stdout_to, work, &[0])
}

/// As [`timed`], for a program whose success has several exit codes (`hardmatch plan`
/// exits 2 when the plan has changes).
pub(crate) fn timed_accepting(
    program: &Path,
    args: &[String],
    stdout_to: Option<&Path>,
    work: &Path,
    success_codes: &[i32],
) -> anyhow::Result<Sample> {
    let report = work.join("time.out");
    let mut command = Command::new(TIME);
    command
        .arg("-f")
        .arg("%e %M %U %S")
        .arg("-o")
        .arg(&report)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        // With RUST_BACKTRACE set, an error's backtrace would fill the tail of stderr shown
        // below and hide the message; panics keep their backtraces.
        .env("RUST_LIB_BACKTRACE", "0");
    match stdout_to {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            command.stdout(file);
        }
        None => {
            command.stdout(Stdio::null());
        }
    }
    let result = command
        .output()
        .with_context(|| format!("running {TIME} (install Debian's `time` package)"))?;
    if !result
        .status
        .code()
        .is_some_and(|code| success_codes.contains(&code))
    {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        bail!(
            "{} failed ({}): {}",
            program.display(),
            result.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let text = std::fs::read_to_string(&report).context("reading /usr/bin/time's report")?;
    let line = text.lines().last().context("/usr/bin/time wrote nothing")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [wall, rss, user, system] = fields[..] else {
        bail!("unexpected /usr/bin/time output `{line}`");
    };
    let seconds = |text: &str| -> anyhow::Result<f64> {
        text.parse()
            .with_context(|| format!("unexpected /usr/bin/time output `{line}`"))
    };
    Ok(Sample {
        wall_seconds: seconds(wall)?,
        peak_rss_kib: rss.parse().with_context(|| format!("peak RSS `{rss}`"))?,
        cpu_seconds: seconds(user)? + seconds(system)?,
    })
}

/// The machine, as the document names it.
struct Machine {
    cpus: usize,
    model: String,
    memory_gib: f64,
    kernel: String,
    load_at_start: String,
}

impl Machine {
    fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            model,
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|text| text.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            load_at_start: std::fs::read_to_string("/proc/loadavg")
                .map(|text| {
                    text.split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|_| "unknown".to_owned()),
        }
    }
}

struct GeneratorRow {
    users: usize,
    cloud_users: usize,
    bytes: u64,
    generate: Measured,
    copy: Measured,
}

struct ParseRow {
    users: usize,
    bytes: u64,
    typed: Measured,
    skim: Measured,
}

pub fn run(arguments: &BenchArgs) -> anyhow::Result<()> {
    if arguments.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if !Path::new(TIME).exists() {
        bail!("{TIME} is missing: install Debian's `time` package (apt-get install time)");
    }
    let started = now();
    let machine = Machine::describe();
    let work = &arguments.work_dir;
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let this = std::env::current_exe().context("locating hardmatch-bench itself")?;

    let mut generator_rows = Vec::new();
    let mut parse_rows = Vec::new();
    if arguments.runs_section(Section::Generator) {
        for &users in &arguments.sizes {
            let row = bench_generator(&this, arguments, users, work)?;
            generator_rows.push(row);
            parse_rows.push(bench_parse(&this, arguments, users, work)?);
        }
    }
    let status_plan = if arguments.runs_section(Section::StatusPlan) {
        crate::status_plan::bench(this.as_path(), arguments, &arguments.sizes, work)?
    } else {
        crate::status_plan::StatusPlan::Skipped("not selected with --only".to_owned())
    };
    let ad_read = if !arguments.runs_section(Section::AdRead) {
        crate::ad_read::AdRead::Skipped("not selected with --only".to_owned())
    } else if arguments.skip_ad_read {
        crate::ad_read::AdRead::Skipped("skipped with --skip-ad-read".to_owned())
    } else {
        crate::ad_read::bench(arguments, work)?
    };
    let version = hardmatch_version(arguments);
    let tenant_read = if arguments.runs_section(Section::TenantRead) {
        crate::tenant_read::bench(&this, arguments, &version, work)?
    } else {
        crate::tenant_read::TenantRead::Skipped("not selected with --only".to_owned())
    };
    let manual = if arguments.runs_section(Section::ManualProcedure) {
        crate::manual_procedure::bench(&this, arguments, &version, work)?
    } else {
        crate::manual_procedure::Comparison::Skipped("not selected with --only".to_owned())
    };
    let bulk_apply = if arguments.runs_section(Section::BulkApply) {
        crate::apply_rate::bench(&this, arguments)
    } else {
        crate::apply_rate::ApplyRate::Failed("not selected with --only".to_owned())
    };

    let mut document = render(
        arguments,
        &machine,
        &started,
        &generator_rows,
        &parse_rows,
        &status_plan,
        &ad_read,
    );
    crate::tenant_read::render(&mut document, &tenant_read);
    crate::manual_procedure::render(&mut document, &manual);
    crate::apply_rate::render(&mut document, &bulk_apply);
    let document = match std::fs::read_to_string(&arguments.output) {
        Ok(previous) => {
            let mut skipped = not_measured_headings(&document);
            if !arguments.runs_section(Section::Generator) {
                // These two render their (empty) tables rather than a note.
                skipped.extend(
                    ["## Synthetic directory generator", "## Snapshot parse"].map(str::to_owned),
                );
            }
            carry_over(&document, &previous, &skipped)
        }
        Err(_) => document,
    };
    if let Some(parent) = arguments.output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&arguments.output, document)
        .with_context(|| format!("writing {}", arguments.output.display()))?;
    output::message(&format!("rewrote {}", arguments.output.display()));
    Ok(())
}

fn now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Instant(i64::try_from(seconds).unwrap_or(i64::MAX)).rfc3339()
}

pub(crate) fn data_dir(work: &Path, users: usize) -> PathBuf {
    work.join(format!("data-{users}"))
}

fn total_bytes(directory: &Path) -> u64 {
    ["ad.json", "tenant.json", "ad.ldif"]
        .iter()
        .filter_map(|name| std::fs::metadata(directory.join(name)).ok())
        .map(|metadata| metadata.len())
        .sum()
}

/// Generator throughput against copying the bytes it writes (`cp`, the I/O floor).
fn bench_generator(
    this: &Path,
    arguments: &BenchArgs,
    users: usize,
    work: &Path,
) -> anyhow::Result<GeneratorRow> {
    output::message(&format!(
        "generator: {users} users × {} runs",
        arguments.runs
    ));
    let directory = data_dir(work, users);
    let copy = work.join(format!("copy-{users}"));
    let gen_args = vec![
        "gen".to_owned(),
        "--seed".to_owned(),
        arguments.seed.to_string(),
        "--users".to_owned(),
        users.to_string(),
        "--out-dir".to_owned(),
        directory.display().to_string(),
    ];
    let summary_path = work.join(format!("summary-{users}.json"));
    let copy_args = vec![
        "-r".to_owned(),
        "--".to_owned(),
        directory.display().to_string(),
        copy.display().to_string(),
    ];
    let mut generated = Vec::new();
    let mut copied = Vec::new();
    for _ in 0..arguments.runs {
        generated.push(timed(this, &gen_args, Some(&summary_path), work)?);
        // A fresh target each time, so cp writes rather than overwrites in place.
        let _ignored = std::fs::remove_dir_all(&copy);
        copied.push(timed(Path::new("cp"), &copy_args, None, work)?);
    }
    let _ignored = std::fs::remove_dir_all(&copy);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path)?)?;
    Ok(GeneratorRow {
        users,
        cloud_users: summary["cloud_users"].as_u64().unwrap_or(0) as usize,
        bytes: total_bytes(&directory),
        generate: Measured::of(&generated),
        copy: Measured::of(&copied),
    })
}

/// Typed parse of both snapshots against a syntax-only parse of the same bytes.
fn bench_parse(
    this: &Path,
    arguments: &BenchArgs,
    users: usize,
    work: &Path,
) -> anyhow::Result<ParseRow> {
    output::message(&format!("parse: {users} users × {} runs", arguments.runs));
    let directory = data_dir(work, users);
    let ad = directory.join("ad.json");
    let tenant = directory.join("tenant.json");
    let args = |mode: &str| {
        vec![
            "parse".to_owned(),
            "--ad".to_owned(),
            ad.display().to_string(),
            "--tenant".to_owned(),
            tenant.display().to_string(),
            "--mode".to_owned(),
            mode.to_owned(),
        ]
    };
    let mut typed = Vec::new();
    let mut skim = Vec::new();
    for _ in 0..arguments.runs {
        typed.push(timed(this, &args("typed"), None, work)?);
        skim.push(timed(this, &args("skim"), None, work)?);
    }
    let bytes = [&ad, &tenant]
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum();
    Ok(ParseRow {
        users,
        bytes,
        typed: Measured::of(&typed),
        skim: Measured::of(&skim),
    })
}

/// How the document names the measured hardmatch build: `--hardmatch-label`, else its
/// `--version`.
pub(crate) fn hardmatch_version(arguments: &BenchArgs) -> String {
    let version = arguments.hardmatch_label.clone().or_else(|| {
        Command::new(&arguments.hardmatch)
            .arg("--version")
            .output()
            .ok()
            .map(|result| String::from_utf8_lossy(&result.stdout).trim().to_owned())
            .filter(|version| !version.is_empty())
    });
    version.unwrap_or_else(|| "unknown version".to_owned())
}

pub(crate) fn timed_with_env(
    program: &Path,
    args: &[String],
    stdout_to: Option<&Path>,
    work: &Path,
    environment: &[(&str, &str)],
) -> anyhow::Result<Sample> {
    timed_with_env_accepting(program, args, stdout_to, work, environment, &[0])
}

/// As [`timed_with_env`], for a program whose success has several exit codes.
pub(crate) fn timed_with_env_accepting(
    program: &Path,
    args: &[String],
    stdout_to: Option<&Path>,
    work: &Path,
    environment: &[(&str, &str)],
    success_codes: &[i32],
) -> anyhow::Result<Sample> {
    // /usr/bin/time passes its environment on; `env` sets the variables for the child
    // without touching this process's environment.
    let mut env_args: Vec<String> = environment
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    env_args.push(program.display().to_string());
    env_args.extend(args.iter().cloned());
    timed_accepting(
        Path::new("/usr/bin/env"),
        &env_args,
        stdout_to,
        work,
        success_codes,
    )
}

fn render(
    arguments: &BenchArgs,
    machine: &Machine,
    started: &str,
    generator_rows: &[GeneratorRow],
    parse_rows: &[ParseRow],
    status_plan: &crate::status_plan::StatusPlan,
    ad_read: &crate::ad_read::AdRead,
) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; the results are ignored with that knowledge.
    let _ = writeln!(
        text,
        "# Benchmarks\n\n\
         <!-- Rewritten by scripts/bench; edit crates/hardmatch-bench/src/bench.rs instead. -->\n\n\
         Produced by `{}` on {started}, {} run(s) per figure, medians reported. \
         Wall time and peak RSS are measured from outside each process by `/usr/bin/time`. \
         Every hardmatch figure is paired with a baseline measured in the same session, \
         interleaved run by run; the ratio is the figure to compare across machines.\n",
        arguments.command, arguments.runs
    );
    let _ = writeln!(
        text,
        "## Machine\n\n\
         | | |\n|---|---|\n\
         | CPUs (nproc) | {} |\n| Model | {} |\n| Memory | {:.1} GiB |\n| Kernel | {} |\n\
         | Load average at start | {} |\n\n\
         The machine is shared: other builds may run alongside, which is why ratios against a \
         baseline measured in the same run matter more than bare times.\n",
        machine.cpus, machine.model, machine.memory_gib, machine.kernel, machine.load_at_start
    );

    let _ = writeln!(
        text,
        "## Synthetic directory generator\n\n\
         `hardmatch-bench gen --seed {} --users N` writes ad.json, tenant.json and ad.ldif \
         with the default rates. Baseline: `cp -r` of the same three files (the I/O floor \
         for writing those bytes).\n\n\
         | AD users | Cloud users | Output | Wall | Users/s | Peak RSS | `cp` wall | Ratio to `cp` |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|",
        arguments.seed
    );
    for row in generator_rows {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} MiB | {:.2} s | {:.0} | {:.0} MiB | {:.2} s | {:.1}× |",
            thousands(row.users),
            thousands(row.cloud_users),
            row.bytes as f64 / 1024.0 / 1024.0,
            row.generate.wall_seconds,
            row.users as f64 / row.generate.wall_seconds.max(1e-9),
            row.generate.rss_mib(),
            row.copy.wall_seconds,
            ratio(row.generate.wall_seconds, row.copy.wall_seconds),
        );
    }
    growth(
        &mut text,
        generator_rows.iter().map(|row| (row.users, row.generate)),
    );

    let _ = writeln!(
        text,
        "\n## Snapshot parse (AD + tenant into the core types)\n\n\
         `hardmatch-bench parse --mode typed` reads ad.json and tenant.json into `AdSnapshot` \
         and `TenantSnapshot` with the reader `status` and `plan` use (both files at once, each \
         read in chunks and its users parsed by sonic-rs a batch at a time), holding both as a \
         plan will. Baseline: `--mode skim`, each file read whole and run through the same \
         parser with `IgnoredAny` (syntax only, nothing built, one file after the other). This is the floor under the later status + plan goal \
         (1M × 1M in at most 5 s and 2 GiB).\n\n\
         | AD users | Cloud users | JSON | Typed wall | Typed peak RSS | Skim wall | Skim peak RSS | Ratio to skim |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (row, generated) in parse_rows.iter().zip(generator_rows) {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} MiB | {:.2} s | {:.0} MiB | {:.2} s | {:.0} MiB | {:.1}× |",
            thousands(row.users),
            thousands(generated.cloud_users),
            row.bytes as f64 / 1024.0 / 1024.0,
            row.typed.wall_seconds,
            row.typed.rss_mib(),
            row.skim.wall_seconds,
            row.skim.rss_mib(),
            ratio(row.typed.wall_seconds, row.skim.wall_seconds),
        );
    }
    growth(
        &mut text,
        parse_rows.iter().map(|row| (row.users, row.typed)),
    );
    if let Some(largest) = parse_rows.iter().max_by_key(|row| row.users) {
        let budget_mib = 2.0 * 1024.0;
        let _ = writeln!(
            text,
            "\nAgainst the status + plan budget at {} users: parsing alone takes {:.0}% of the 5 s \
             and {:.0}% of the 2 GiB.",
            thousands(largest.users),
            largest.typed.wall_seconds / 5.0 * 100.0,
            largest.typed.rss_mib() / budget_mib * 100.0,
        );
    }

    crate::status_plan::render(&mut text, status_plan);

    crate::ad_read::render(&mut text, ad_read);

    text
}

/// The note a section renders when this run did not measure it.
pub(crate) const NOT_MEASURED: &str = "Not measured in this run: ";

/// The headings of the sections `document` says this run did not measure.
fn not_measured_headings(document: &str) -> Vec<String> {
    sections(document)
        .into_iter()
        .filter(|(_, body)| body.trim_start().starts_with(NOT_MEASURED))
        .map(|(heading, _)| heading.to_owned())
        .collect()
}

/// `## ` sections of a document: heading line and body, in order (the preamble has none).
fn sections(document: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = document;
    while let Some(start) = rest.find("\n## ") {
        let after = &rest[start + 1..];
        let heading_end = after.find('\n').unwrap_or(after.len());
        let body_start = (heading_end + 1).min(after.len());
        let body_end = after[body_start..]
            .find("\n## ")
            .map_or(after.len(), |end| body_start + end);
        found.push((&after[..heading_end], &after[body_start..body_end]));
        rest = &after[body_end..];
    }
    found
}

/// Replaces each section this run did not measure (named by its heading or the start of
/// it) with the previous document's figures for it, marked as carried over with the
/// command and date that produced them, so that a run of some sections (`--only`, a lab
/// that is down) never erases the others.
fn carry_over(document: &str, previous: &str, headings: &[String]) -> String {
    let old_sections = sections(previous);
    let origin = previous
        .lines()
        .find_map(|line| line.strip_prefix("Produced by "))
        .and_then(|line| line.split(", ").next())
        .unwrap_or("an earlier run");
    let mut result = String::with_capacity(document.len() + previous.len());
    let mut rest = document;
    for (heading, _) in sections(document) {
        if !headings
            .iter()
            .any(|skipped| heading.starts_with(skipped.as_str()))
        {
            continue;
        }
        let Some((_, old_body)) = old_sections.iter().find(|(old, _)| *old == heading) else {
            continue;
        };
        if old_body.trim_start().starts_with(NOT_MEASURED) && !old_body.contains("carried over") {
            continue;
        }
        let Some(start) = rest.find(&format!("\n{heading}\n")) else {
            continue;
        };
        let body_start = start + 1 + heading.len() + 1;
        let body_end = rest[body_start..]
            .find("\n## ")
            .map_or(rest.len(), |end| body_start + end);
        result.push_str(&rest[..body_start]);
        let old_body = old_body.trim_start_matches('\n');
        if old_body.starts_with(NOT_MEASURED) || old_body.starts_with("Carried over") {
            // Already carried over once: it names the run its figures come from.
            result.push('\n');
            result.push_str(old_body);
        } else {
            let new_body = rest[body_start..body_end].trim();
            let reason = new_body
                .strip_prefix(NOT_MEASURED)
                .map_or("not selected with --only", |reason| {
                    reason.trim_end_matches('.')
                });
            let _ = write!(
                result,
                "\nCarried over unchanged from {origin} ({reason} in this run).\n\n{old_body}"
            );
        }
        rest = &rest[body_end..];
    }
    result.push_str(rest);
    result
}

pub(crate) fn growth(text: &mut String, rows: impl Iterator<Item = (usize, Measured)>) {
    let rows: Vec<(usize, Measured)> = rows.collect();
    for pair in rows.windows(2) {
        let ((small_users, small), (large_users, large)) = (pair[0], pair[1]);
        let size_factor = large_users as f64 / small_users.max(1) as f64;
        let _ = writeln!(
            text,
            "\nGrowth from {} to {} users (×{:.0}): wall ×{:.1}, peak RSS ×{:.1}.",
            thousands(small_users),
            thousands(large_users),
            size_factor,
            ratio(large.wall_seconds, small.wall_seconds),
            ratio(large.peak_rss_kib as f64, small.peak_rss_kib as f64),
        );
    }
}

pub(crate) fn ratio(numerator: f64, denominator: f64) -> f64 {
    numerator / denominator.max(1e-9)
}

/// `1000000` → `1,000,000`.
pub fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_grouping() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(100_500), "100,500");
    }

    #[test]
    fn sections_not_measured_keep_the_previous_figures_marked_as_carried_over() {
        let previous = "# Benchmarks\n\nProduced by `scripts/bench` on 2026-01-01T00:00:00Z, 3 run(s).\n\
                        \n## AD read\n\n| 1.00 s |\n\n## Tenant read\n\n| 2.00 s |\n\
                        \n## Gone\n\nNot measured in this run: down.\n";
        let document = "# Benchmarks\n\nProduced by `scripts/bench --only x` on now.\n\
                        \n## AD read\n\nNot measured in this run: the lab is down.\n\
                        \n## Tenant read\n\n| 3.00 s |\n\
                        \n## Gone\n\nNot measured in this run: still down.\n";
        let headings = not_measured_headings(document);
        assert_eq!(headings, ["## AD read", "## Gone"]);
        let merged = carry_over(document, previous, &headings);
        assert!(
            merged.contains(
                "## AD read\n\nCarried over unchanged from `scripts/bench` on 2026-01-01T00:00:00Z \
             (the lab is down in this run).\n\n| 1.00 s |"
            ),
            "{merged}"
        );
        // Measured sections are this run's; a section never measured stays so.
        assert!(merged.contains("## Tenant read\n\n| 3.00 s |"), "{merged}");
        assert!(!merged.contains("2.00 s"), "{merged}");
        assert!(
            merged.contains("## Gone\n\nNot measured in this run: still down."),
            "{merged}"
        );
        // Carried over again, the note is not stacked.
        let again = carry_over(document, &merged, &headings);
        assert_eq!(again.matches("Carried over").count(), 1, "{again}");
    }
}
