//! hardmatch against what an admin would use instead (issue 8 item 5): the classic guides'
//! per-user procedure, implemented with Microsoft's Python Graph SDK
//! (tests/graph-sdk/manual_procedure.py), and hardmatch's workflow (`plan` reading the
//! tenant, then `apply --yes`, whose plan ends with a sync cycle), linking the same users of
//! the same generated tenant through the emulator with 50 ms latency and the real quotas.
//! Each run of either side gets a fresh emulator, since linking changes the tenant;
//! requests are counted in its log, and the users actually linked in its state afterwards.
//!
//! The baseline runs twice over: finding holders with `$filter` (a variant that favours it)
//! on every user, and as the guides do, scanning the whole tenant once per user, on a
//! sample of the first users only, since 1000 scans of a 50k tenant take hours; each
//! user's procedure is independent of the others' and costs the same, so the sample's
//! per-user figures extrapolate to the whole job, and the document says so.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::tenant::{CloudUser, TenantSnapshot};
use serde::Deserialize;
use serde_json::Value;

use crate::bench::{BenchArgs, Measured, Sample, ratio, thousands, timed_with_env_accepting};
use crate::emulator_process::{App, EmulatorProcess, SECRET_VARIABLE, ServedRequest};
use crate::output;
use crate::tenant_read::generate;

/// Goals from issue 8.
const GOAL_REQUESTS: f64 = 20.0;
const GOAL_TIME: f64 = 10.0;

/// HTTP requests of one run, split as the quotas see them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Requests {
    pub(crate) reads: usize,
    /// Single writes (POST, PATCH, DELETE outside `$batch`).
    pub(crate) writes: usize,
    /// `$batch` requests (each carries up to 20 operations, every one counted by the quotas).
    pub(crate) batches: usize,
    /// Write operations inside those `$batch` requests, which the emulator logs under
    /// `…/$batch/…` paths besides the batch itself: not HTTP requests of their own.
    pub(crate) batched_writes: usize,
    /// Token requests to the identity platform.
    pub(crate) tokens: usize,
    pub(crate) throttled: usize,
}

impl Requests {
    pub(crate) fn of(log: &[ServedRequest]) -> Self {
        let mut requests = Self::default();
        for request in log {
            if request.status == 429 {
                requests.throttled += 1;
            }
            if request.path.contains("/$batch/") {
                requests.batched_writes += 1;
            } else if request.path.ends_with("/token") {
                requests.tokens += 1;
            } else if request.path.ends_with("/$batch") {
                requests.batches += 1;
            } else if request.method == "GET" {
                requests.reads += 1;
            } else {
                requests.writes += 1;
            }
        }
        requests
    }

    pub(crate) fn total(&self) -> usize {
        self.reads + self.writes + self.batches + self.tokens
    }

    fn median(runs: &[Self]) -> Self {
        let middle = |pick: fn(&Self) -> usize| {
            let mut values: Vec<usize> = runs.iter().map(pick).collect();
            values.sort_unstable();
            values.get(values.len() / 2).copied().unwrap_or(0)
        };
        Self {
            reads: middle(|run| run.reads),
            writes: middle(|run| run.writes),
            batches: middle(|run| run.batches),
            batched_writes: middle(|run| run.batched_writes),
            tokens: middle(|run| run.tokens),
            throttled: middle(|run| run.throttled),
        }
    }
}

/// One side of the comparison, medians over its runs.
pub(crate) struct Side {
    measured: Measured,
    requests: Requests,
    /// Users found linked in the emulator's state after the run (the smallest over runs).
    linked: usize,
    /// The last run's requests by endpoint (ids replaced by `{id}`), most frequent first.
    endpoints: Vec<(String, usize)>,
}

/// Requests grouped by method and path with every id-like segment (a GUID, a UPN) made
/// `{id}`, most frequent first: where a side's requests go.
pub(crate) fn by_endpoint(log: &[ServedRequest]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for request in log
        .iter()
        .filter(|request| !request.path.contains("/$batch/"))
    {
        let path: Vec<&str> = request
            .path
            .split('/')
            .enumerate()
            .map(|(position, segment)| {
                let id_like = segment.len() >= 32
                    && segment.chars().filter(|c| *c == '-').count() == 4
                    || segment.contains('@')
                    || segment.contains("%40");
                if id_like || (position == 1 && request.path.contains("/oauth2/")) {
                    "{id}"
                } else {
                    segment
                }
            })
            .collect();
        let key = format!("{} {}", request.method, path.join("/"));
        match counts.iter_mut().find(|(seen, _)| *seen == key) {
            Some((_, count)) => *count += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    counts
}

/// The guides' scanning procedure on its sample of users, with what it extrapolates to.
pub(crate) struct ScanSample {
    side: Side,
    /// Users in the sample (the first of the links).
    users: usize,
    /// Per user: seconds and requests, as the script measured them.
    user_seconds: Vec<f64>,
    user_requests: Vec<usize>,
}

impl ScanSample {
    fn mean_seconds(&self) -> f64 {
        self.user_seconds.iter().sum::<f64>() / self.user_seconds.len().max(1) as f64
    }

    /// Requests per user from the emulator's log: everything but the token requests,
    /// shared by the sample's users.
    fn requests_per_user(&self) -> f64 {
        let requests = &self.side.requests;
        (requests.total() - requests.tokens) as f64 / self.users.max(1) as f64
    }

    /// The whole job's requests: the tokens once, the users' share `links` times.
    fn extrapolated_requests(&self, links: usize) -> f64 {
        self.side.requests.tokens as f64 + self.requests_per_user() * links as f64
    }

    /// The whole job's wall time: what the process spent besides its users (start, sign
    /// in) once, the mean user `links` times.
    fn extrapolated_seconds(&self, links: usize) -> f64 {
        let users_seconds: f64 = self.user_seconds.iter().sum();
        (self.side.measured.wall_seconds - users_seconds).max(0.0)
            + self.mean_seconds() * links as f64
    }
}

pub(crate) enum Comparison {
    Measured {
        version: String,
        latency_milliseconds: u64,
        tenant_users: usize,
        cloud_users: usize,
        links: usize,
        hardmatch: Box<Side>,
        filter: Box<Side>,
        scan: Box<ScanSample>,
        runs: usize,
    },
    Skipped(String),
}

/// How the baseline finds the holders of an ImmutableID (the script's `--holders`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holders {
    Scan,
    Filter,
}

impl Holders {
    fn flag(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::Filter => "filter",
        }
    }
}

/// What manual_procedure.py prints.
#[derive(Deserialize)]
struct ScriptReport {
    linked: usize,
    user_seconds: Vec<f64>,
    user_requests: Vec<usize>,
}

/// How many of `links` the tenant shows done: the one active user with the AD user's UPN
/// holds its ImmutableID, and no other user, active or deleted, does. Both sides are
/// judged by this, on the emulator's state after their run.
fn count_linked(state: &Value, links: &[Link]) -> usize {
    let users = state
        .get("users")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = |user: &Value, name: &str| user.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut by_anchor: HashMap<String, usize> = HashMap::new();
    let mut active_by_upn: HashMap<String, Vec<&Value>> = HashMap::new();
    for user in users {
        if let Some(anchor) = text(user, "onPremisesImmutableId") {
            *by_anchor.entry(anchor).or_default() += 1;
        }
        let deleted = user
            .get("deletedDateTime")
            .is_some_and(|value| !value.is_null());
        if let (false, Some(upn)) = (deleted, text(user, "userPrincipalName")) {
            active_by_upn
                .entry(upn.to_lowercase())
                .or_default()
                .push(user);
        }
    }
    links
        .iter()
        .filter(|link| {
            let holders = by_anchor.get(&link.immutable_id).copied().unwrap_or(0);
            let accounts = active_by_upn
                .get(&link.user_principal_name.to_lowercase())
                .map(Vec::as_slice)
                .unwrap_or_default();
            holders == 1
                && matches!(accounts, [account]
                    if text(account, "onPremisesImmutableId").as_deref() == Some(link.immutable_id.as_str()))
        })
        .count()
}

/// An AD user the benchmark links: its ImmutableID is held by the sync-created duplicate,
/// and an unlinked cloud account has its UPN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) immutable_id: String,
    pub(crate) user_principal_name: String,
}

/// The first `count` AD users (in snapshot order) whose case is the one the manual
/// procedure handles: exactly one active holder of the ImmutableID, synced, unlicensed and
/// under another UPN, and exactly one active cloud user with the AD UPN and no ImmutableID.
pub(crate) fn pick_links(ad: &AdSnapshot, tenant: &TenantSnapshot, count: usize) -> Vec<Link> {
    let active: Vec<&CloudUser> = tenant
        .users
        .iter()
        .filter(|user| user.deleted_date_time.is_none())
        .collect();
    let mut by_anchor: HashMap<&str, Vec<&CloudUser>> = HashMap::new();
    let mut by_upn: HashMap<String, Vec<&CloudUser>> = HashMap::new();
    for &user in &active {
        if let Some(anchor) = &user.on_premises_immutable_id {
            by_anchor.entry(anchor.as_str()).or_default().push(user);
        }
        by_upn
            .entry(user.user_principal_name.as_str().to_lowercase())
            .or_default()
            .push(user);
    }
    ad.users
        .iter()
        .filter_map(|user| {
            let upn = user.user_principal_name.as_deref()?;
            let holders = by_anchor.get(user.immutable_id.as_str())?;
            let [holder] = holders.as_slice() else {
                return None;
            };
            let duplicate = !holder.user_principal_name.eq_ignore_ascii_case(upn)
                && holder.on_premises_sync_enabled == Some(true)
                && holder.assigned_licenses.is_empty();
            let targets = by_upn.get(&upn.to_lowercase())?;
            let [target] = targets.as_slice() else {
                return None;
            };
            (duplicate && target.on_premises_immutable_id.is_none()).then(|| Link {
                immutable_id: user.immutable_id.as_str().to_owned(),
                user_principal_name: upn.to_owned(),
            })
        })
        .take(count)
        .collect()
}

pub(crate) fn bench(
    this: &Path,
    arguments: &BenchArgs,
    version: &str,
    work: &Path,
) -> anyhow::Result<Comparison> {
    if !arguments.hardmatch.exists() {
        return Ok(Comparison::Skipped(format!(
            "the hardmatch CLI was not built ({})",
            arguments.hardmatch.display()
        )));
    }
    let Some(python) = arguments.graph_sdk_python.clone() else {
        return Ok(Comparison::Skipped(
            "no Graph SDK Python (scripts/bench sets HARDMATCH_GRAPH_SDK_PYTHON from scripts/graph-sdk-venv)"
                .to_owned(),
        ));
    };
    let script = PathBuf::from("tests/graph-sdk/manual_procedure.py");
    if !script.exists() {
        bail!(
            "{} is missing (run from the repository root)",
            script.display()
        );
    }
    let tenant_users = arguments.manual_tenant_users;
    let directory = work.join(format!("manual-{tenant_users}"));
    if !directory.join("tenant.json").exists() {
        // Sync-created duplicates for 2.5% of the AD users (the cases to link, with some to
        // spare); the other problem categories off, so that every link is the same case.
        generate(
            this,
            arguments,
            tenant_users,
            &directory,
            &[
                "--duplicate-rate",
                "0.025",
                "--soft-match-rate",
                "0",
                "--recycle-bin-rate",
                "0",
                "--licensed-holder-rate",
                "0",
                "--proxy-conflict-rate",
                "0",
                "--admin-rate",
                "0",
            ],
            work,
        )?;
    }
    let ad_path = directory.join("ad.json");
    let fixture = directory.join("tenant.json");
    let ad: AdSnapshot = serde_json::from_slice(&std::fs::read(&ad_path)?)
        .with_context(|| format!("parsing {}", ad_path.display()))?;
    let tenant: TenantSnapshot = serde_json::from_slice(&std::fs::read(&fixture)?)
        .with_context(|| format!("parsing {}", fixture.display()))?;
    let links = pick_links(&ad, &tenant, arguments.manual_links);
    if links.len() < arguments.manual_links {
        bail!(
            "{} holds only {} users to link, fewer than --manual-links {}",
            directory.display(),
            links.len(),
            arguments.manual_links
        );
    }
    let users_csv = directory.join("links.csv");
    let mapping_csv = directory.join("mapping.csv");
    let mut users_text = String::from("immutable_id,user_principal_name\n");
    let mut mapping_text = String::from("ad,cloud\n");
    for link in &links {
        let _ = writeln!(
            users_text,
            "{},{}",
            link.immutable_id, link.user_principal_name
        );
        let _ = writeln!(
            mapping_text,
            "{},{}",
            link.user_principal_name, link.user_principal_name
        );
    }
    std::fs::write(&users_csv, users_text)?;
    std::fs::write(&mapping_csv, mapping_text)?;
    let app = App::of_fixture(&fixture)?;
    let runs = arguments.manual_runs.max(1);
    let sample_users = arguments.manual_scan_sample.clamp(1, links.len());
    output::message(&format!(
        "manual procedure: {} links in {tenant_users} users, {} ms latency: hardmatch and the Graph SDK with `$filter` × {runs} runs, the SDK scanning the tenant on the first {sample_users} users once",
        links.len(),
        arguments.latency_ms
    ));
    let baseline = Baseline {
        python: &python,
        script: &script,
        fixture: &fixture,
        users: &users_csv,
        app: &app,
        work,
    };
    let mut hardmatch_runs = Vec::new();
    let mut filter_runs = Vec::new();
    for run in 0..runs {
        hardmatch_runs.push(run_hardmatch(
            arguments,
            &fixture,
            &ad_path,
            &mapping_csv,
            &app,
            &links,
            work,
            run,
        )?);
        filter_runs.push(run_manual(
            arguments,
            &baseline,
            Holders::Filter,
            &links,
            None,
        )?);
    }
    let scan = run_manual(
        arguments,
        &baseline,
        Holders::Scan,
        &links,
        Some(sample_users),
    )?;
    let scan_side = Side::of(vec![scan.run]);
    Ok(Comparison::Measured {
        version: version.to_owned(),
        latency_milliseconds: arguments.latency_ms,
        tenant_users,
        cloud_users: tenant.users.len(),
        links: links.len(),
        hardmatch: Box::new(Side::of(hardmatch_runs)),
        filter: Box::new(Side::of(
            filter_runs.into_iter().map(|run| run.run).collect(),
        )),
        scan: Box::new(ScanSample {
            side: scan_side,
            users: sample_users,
            user_seconds: scan.report.user_seconds,
            user_requests: scan.report.user_requests,
        }),
        runs,
    })
}

/// One run of one side: its sample, its request log, the users linked afterwards.
struct Run {
    sample: Sample,
    log: Vec<ServedRequest>,
    linked: usize,
}

impl Side {
    fn of(runs: Vec<Run>) -> Self {
        let samples: Vec<Sample> = runs.iter().map(|run| run.sample).collect();
        let requests: Vec<Requests> = runs.iter().map(|run| Requests::of(&run.log)).collect();
        Self {
            measured: Measured::of(&samples),
            requests: Requests::median(&requests),
            linked: runs.iter().map(|run| run.linked).min().unwrap_or(0),
            endpoints: runs
                .last()
                .map(|run| by_endpoint(&run.log))
                .unwrap_or_default(),
        }
    }
}

/// `hardmatch plan` (reading the tenant) then `hardmatch apply --yes` (whose plan ends
/// with the sync cycle), on a fresh emulator; the sample is the two processes' wall and
/// CPU summed, and the larger peak RSS.
#[allow(clippy::too_many_arguments)]
fn run_hardmatch(
    arguments: &BenchArgs,
    fixture: &Path,
    ad: &Path,
    mapping: &Path,
    app: &App,
    links: &[Link],
    work: &Path,
    run: usize,
) -> anyhow::Result<Run> {
    let emulator =
        EmulatorProcess::start(&arguments.hardmatch, fixture, arguments.latency_ms, true)?;
    let flags = emulator.tenant_flags(app);
    let plan = work.join("manual-plan.json");
    let workspace = work.join(format!("manual-workspace-{run}"));
    let _ignored = std::fs::remove_dir_all(&workspace);
    let mut plan_args: Vec<String> = ["plan", "--ad-snapshot"].map(str::to_owned).to_vec();
    plan_args.push(ad.display().to_string());
    plan_args.extend(flags.iter().cloned());
    plan_args.extend([
        "--mapping".to_owned(),
        mapping.display().to_string(),
        "--deletion-threshold".to_owned(),
        links.len().to_string(),
        "-o".to_owned(),
        plan.display().to_string(),
    ]);
    let environment = [(SECRET_VARIABLE, app.client_secret.as_str())];
    // `plan` exits 2 when the plan has changes, as it must here.
    let planned = timed_with_env_accepting(
        &arguments.hardmatch,
        &plan_args,
        None,
        work,
        &environment,
        &[2],
    )?;
    let mut apply_args: Vec<String> = vec![
        "apply".to_owned(),
        plan.display().to_string(),
        "--yes".to_owned(),
        // The plan purges every duplicate, which `--yes` alone does not confirm.
        "--allow-purge".to_owned(),
    ];
    apply_args.extend([
        "--sync-engine".to_owned(),
        "emulator".to_owned(),
        "--workspace".to_owned(),
        workspace.display().to_string(),
        "--ad-snapshot".to_owned(),
        ad.display().to_string(),
    ]);
    apply_args.extend(flags);
    let applied = timed_with_env_accepting(
        &arguments.hardmatch,
        &apply_args,
        None,
        work,
        &environment,
        &[0],
    )?;
    let log = emulator.requests()?;
    let linked = count_linked(&emulator.state()?, links);
    let _ignored = std::fs::remove_dir_all(&workspace);
    Ok(Run {
        sample: Sample {
            wall_seconds: planned.wall_seconds + applied.wall_seconds,
            peak_rss_kib: planned.peak_rss_kib.max(applied.peak_rss_kib),
            cpu_seconds: planned.cpu_seconds + applied.cpu_seconds,
        },
        log,
        linked,
    })
}

/// What every run of the Graph SDK script shares.
struct Baseline<'a> {
    python: &'a Path,
    script: &'a Path,
    fixture: &'a Path,
    users: &'a Path,
    app: &'a App,
    work: &'a Path,
}

/// A run of the script and what it reported.
struct ManualRun {
    run: Run,
    report: ScriptReport,
}

/// The Graph SDK script on a fresh emulator, on the first `limit` users (all without).
fn run_manual(
    arguments: &BenchArgs,
    baseline: &Baseline<'_>,
    holders: Holders,
    links: &[Link],
    limit: Option<usize>,
) -> anyhow::Result<ManualRun> {
    let emulator = EmulatorProcess::start(
        &arguments.hardmatch,
        baseline.fixture,
        arguments.latency_ms,
        true,
    )?;
    let app = baseline.app;
    let ca = emulator
        .ca_certificate
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    let host = emulator.url.trim_start_matches("https://").to_owned();
    let graph_url = format!("{}/v1.0", emulator.url);
    let report_path = baseline
        .work
        .join(format!("manual-procedure-{}.json", holders.flag()));
    let mut script_args = vec![
        baseline.script.display().to_string(),
        "--holders".to_owned(),
        holders.flag().to_owned(),
    ];
    if let Some(limit) = limit {
        script_args.extend(["--limit".to_owned(), limit.to_string()]);
    }
    script_args.push(baseline.users.display().to_string());
    let sample = timed_with_env_accepting(
        baseline.python,
        &script_args,
        Some(&report_path),
        baseline.work,
        &[
            ("HARDMATCH_GRAPH_URL", &graph_url),
            ("HARDMATCH_AUTHORITY_HOST", &host),
            ("HARDMATCH_TENANT_ID", &app.tenant_id),
            ("HARDMATCH_CLIENT_ID", &app.client_id),
            ("HARDMATCH_CLIENT_SECRET", &app.client_secret),
            ("SSL_CERT_FILE", &ca),
            ("REQUESTS_CA_BUNDLE", &ca),
        ],
        &[0],
    )?;
    let report: ScriptReport = serde_json::from_slice(&std::fs::read(&report_path)?)
        .with_context(|| format!("parsing {}", report_path.display()))?;
    let log = emulator.requests()?;
    let done = &links[..limit.unwrap_or(links.len()).min(links.len())];
    let linked = count_linked(&emulator.state()?, done);
    if linked != report.linked {
        output::message(&format!(
            "manual procedure ({}): the script reports {} linked, the emulator's state shows {linked}",
            holders.flag(),
            report.linked
        ));
    }
    Ok(ManualRun {
        run: Run {
            sample,
            log,
            linked,
        },
        report,
    })
}

/// "met", or by how much the achieved ratio falls short of the goal.
fn verdict(achieved: f64, goal: f64) -> String {
    if achieved >= goal {
        "met".to_owned()
    } else {
        format!("missed by {:.0}%", (1.0 - achieved / goal) * 100.0)
    }
}

fn table_row(text: &mut String, name: &str, linked: &str, side: &Side) {
    let requests = &side.requests;
    let _ = writeln!(
        text,
        "| {name} | {linked} | {} | {} | {} | {} ({}) | {} | {} | {:.1} s | {:.1}–{:.1} s | {:.1} s | {:.0} MiB |",
        thousands(requests.total()),
        thousands(requests.reads),
        thousands(requests.writes),
        thousands(requests.batches),
        thousands(requests.batched_writes),
        requests.tokens,
        requests.throttled,
        side.measured.wall_seconds,
        side.measured.fastest_wall_seconds,
        side.measured.slowest_wall_seconds,
        side.measured.cpu_seconds,
        side.measured.rss_mib(),
    );
}

/// The smallest, median and largest of some figures.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |position: usize| sorted.get(position).copied().unwrap_or(0.0);
    (
        at(0),
        at(sorted.len() / 2),
        at(sorted.len().saturating_sub(1)),
    )
}

pub(crate) fn render(text: &mut String, section: &Comparison) {
    let _ = writeln!(
        text,
        "\n## Against the manual per-user procedure (Microsoft's Python Graph SDK)\n"
    );
    let Comparison::Measured {
        version,
        latency_milliseconds,
        tenant_users,
        cloud_users,
        links,
        hardmatch,
        filter,
        scan,
        runs,
    } = section
    else {
        if let Comparison::Skipped(reason) = section {
            let _ = writeln!(text, "Not measured in this run: {reason}.");
        }
        return;
    };
    let links = *links;
    let _ = writeln!(
        text,
        "{links} AD users to link in a generated tenant of {} AD users ({} cloud users), each \
         with a sync-created duplicate holding its ImmutableID and an unlinked cloud account \
         with its UPN, served by `hardmatch emulator --tls --latency-ms {latency_milliseconds}` \
         with the real quotas; a fresh emulator for every run of every side. \
         Baseline: tests/graph-sdk/manual_procedure.py, the classic guides' procedure with \
         Microsoft's msgraph-sdk, one user at a time, sequential: find the active holder of \
         the ImmutableID, look in the deleted items, delete the duplicate, purge it, get the \
         real account by UPN, set its ImmutableID. It finds holders two ways: `scan`, as the \
         guides do (`Get-MsolUser -All | Where-Object {{$_.ImmutableId -eq …}}`): every user, \
         999 a page with `$select`, compared on the client, then the deleted items the same \
         way, once per user; and `filter`, the modern `$filter=onPremisesImmutableId eq …`, \
         one page each, a variant that favours the baseline. hardmatch ({version}): \
         `hardmatch plan --mapping` (the same {links} users) reading the tenant live, then \
         `hardmatch apply --yes --allow-purge`, whose plan ends with the sync cycle that \
         links the users; its wall time is the two commands' sum. hardmatch and `filter` \
         run on all {links} users, {runs} run(s) each, alternating (medians); `scan` costs \
         ⌈{}/999⌉ pages per user, hours for {links} users, so it runs once on the first {} \
         users, with every step and real calls, and its {links}-user figures are an \
         **extrapolation**: each user's procedure is independent of the others' and reads \
         the same pages, so the job costs the sample's per-user mean {links} times, plus the \
         process's start and sign-in once. Users linked are counted in the emulator's state \
         after each run: the one active account with the AD user's UPN holds its ImmutableID \
         and no other user does (the smallest count over runs). Requests are HTTP requests in \
         the emulator's log; a `$batch` counts once, the writes in it (in brackets) each \
         count against the quotas.\n\n\
         | | Users linked | Requests | Reads | Single writes | `$batch` (writes in them) | Tokens | 429s | Wall (median) | Wall (fastest–slowest) | CPU | Peak RSS |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        thousands(*tenant_users),
        thousands(*cloud_users),
        thousands(*cloud_users),
        scan.users,
    );
    table_row(
        text,
        "hardmatch",
        &format!("{} of {links}", thousands(hardmatch.linked)),
        hardmatch,
    );
    table_row(
        text,
        "manual, `filter`",
        &format!("{} of {links}", thousands(filter.linked)),
        filter,
    );
    table_row(
        text,
        &format!("manual, `scan`: sample of {}", scan.users),
        &format!("{} of {}", scan.side.linked, scan.users),
        &scan.side,
    );
    let scan_requests = scan.extrapolated_requests(links);
    let scan_seconds = scan.extrapolated_seconds(links);
    let _ = writeln!(
        text,
        "| manual, `scan`: {links} users, **extrapolated** | — | {} | | | | | | {:.0} s ({:.1} h) | | | |",
        thousands(scan_requests.round() as usize),
        scan_seconds,
        scan_seconds / 3600.0,
    );
    let hardmatch_requests = hardmatch.requests.total() as f64;
    let hardmatch_seconds = hardmatch.measured.wall_seconds;
    let user_seconds = spread(&scan.user_seconds);
    let user_requests: Vec<f64> = scan
        .user_requests
        .iter()
        .map(|&count| count as f64)
        .collect();
    let user_requests = spread(&user_requests);
    let _ = writeln!(
        text,
        "\nThe `scan` sample per user: {:.1} requests (the emulator's log, tokens aside), \
         by the script's count {:.0}–{:.0}; {:.2} s median, {:.2}–{:.2} s fastest to slowest, \
         {:.2} s mean.",
        scan.requests_per_user(),
        user_requests.0,
        user_requests.2,
        user_seconds.1,
        user_seconds.0,
        user_seconds.2,
        scan.mean_seconds(),
    );
    let _ = writeln!(
        text,
        "\n| hardmatch against | Fewer requests (goal ≥ {GOAL_REQUESTS:.0}×) | Less time (goal ≥ {GOAL_TIME:.0}×) |\n|---|---:|---:|"
    );
    for (name, requests, seconds) in [
        (
            "the guides' procedure, `scan` (extrapolated)".to_owned(),
            scan_requests,
            scan_seconds,
        ),
        (
            "the favoured variant, `filter` (measured)".to_owned(),
            filter.requests.total() as f64,
            filter.measured.wall_seconds,
        ),
    ] {
        let request_ratio = ratio(requests, hardmatch_requests);
        let time_ratio = ratio(seconds, hardmatch_seconds);
        let _ = writeln!(
            text,
            "| {name} | {request_ratio:.1}× ({}) | {time_ratio:.1}× ({}) |",
            verdict(request_ratio, GOAL_REQUESTS),
            verdict(time_ratio, GOAL_TIME),
        );
    }
    let _ = writeln!(
        text,
        "\nWhy: the manual procedure pays per user, in sequence, each request a round trip of \
         at least {latency_milliseconds} ms: {:.1} requests per user with `filter`, {:.1} with \
         `scan`, whose pages of 999 users also cost the server and the SDK time to write and \
         parse. hardmatch reads the whole tenant once in ⌈M/999⌉ pages ({:.2} requests per \
         link over the whole run) and sends its writes in `$batch`es of up to 20, paced to \
         the write quota, which sets its floor: a link is two or three writes (delete, purge, \
         ImmutableID) against the quota's writes per second.",
        ratio(filter.requests.total() as f64, links as f64),
        scan.requests_per_user(),
        ratio(hardmatch_requests, links as f64),
    );
    for (name, side) in [
        ("hardmatch", &**hardmatch),
        ("The `filter` procedure", &**filter),
        ("The `scan` sample", &scan.side),
    ] {
        let endpoints: Vec<String> = side
            .endpoints
            .iter()
            .map(|(endpoint, count)| format!("`{endpoint}` × {}", thousands(*count)))
            .collect();
        let _ = writeln!(
            text,
            "\n{name}'s requests by endpoint (last run): {}.",
            endpoints.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(immutable_id: &str, upn: &str) -> Link {
        Link {
            immutable_id: immutable_id.to_owned(),
            user_principal_name: upn.to_owned(),
        }
    }

    #[test]
    fn a_link_counts_only_when_the_account_alone_holds_the_immutable_id() {
        let state = json!({"users": [
            // Done: the account holds it, the duplicate is purged.
            {"id": "1", "userPrincipalName": "Ann@contoso.com", "onPremisesImmutableId": "A"},
            // Not done: the duplicate still holds it, deleted but not purged.
            {"id": "2", "userPrincipalName": "bob@contoso.com", "onPremisesImmutableId": "B"},
            {"id": "3", "userPrincipalName": "bob.sync@contoso.com", "onPremisesImmutableId": "B",
             "deletedDateTime": "2026-01-01T00:00:00Z"},
            // Not done: the account was never written.
            {"id": "4", "userPrincipalName": "cy@contoso.com", "onPremisesImmutableId": null},
            {"id": "5", "userPrincipalName": "cy.sync@contoso.com", "onPremisesImmutableId": "C"},
            // Not done: only a deleted account has the UPN.
            {"id": "6", "userPrincipalName": "di@contoso.com", "onPremisesImmutableId": "D",
             "deletedDateTime": "2026-01-01T00:00:00Z"},
        ]});
        let links = [
            link("A", "ann@contoso.com"),
            link("B", "bob@contoso.com"),
            link("C", "cy@contoso.com"),
            link("D", "di@contoso.com"),
        ];
        assert_eq!(count_linked(&state, &links), 1);
        assert_eq!(count_linked(&state, &links[1..]), 0);
    }

    #[test]
    fn the_scan_sample_extrapolates_its_per_user_cost_and_its_overhead_once() {
        let sample = ScanSample {
            side: Side {
                measured: Measured::of(&[Sample {
                    wall_seconds: 23.0,
                    peak_rss_kib: 1024,
                    cpu_seconds: 5.0,
                }]),
                requests: Requests {
                    reads: 100,
                    writes: 8,
                    tokens: 1,
                    ..Requests::default()
                },
                linked: 2,
                endpoints: Vec::new(),
            },
            users: 2,
            user_seconds: vec![9.0, 11.0],
            user_requests: vec![54, 54],
        };
        assert_eq!(sample.requests_per_user(), 54.0);
        assert_eq!(sample.extrapolated_requests(1000), 54_001.0);
        // 3 s outside the users once, then 10 s a user.
        assert_eq!(sample.extrapolated_seconds(1000), 10_003.0);
    }
}
