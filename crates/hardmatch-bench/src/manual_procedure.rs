//! hardmatch against what an admin would use instead (issue 8 item 5): the classic guides'
//! per-user procedure, implemented with Microsoft's Python Graph SDK
//! (tests/graph-sdk/manual_procedure.py), and hardmatch's workflow (`plan` reading the
//! tenant, then `apply --yes`), linking the same users of the same generated tenant through
//! the emulator with 50 ms latency and the real quotas. Each run of either side gets a fresh
//! emulator, since linking changes the tenant; requests are counted in its log.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::tenant::{CloudUser, TenantSnapshot};

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
            if request.path.ends_with("/token") {
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
            tokens: middle(|run| run.tokens),
            throttled: middle(|run| run.throttled),
        }
    }
}

/// One side of the comparison, medians over its runs.
pub(crate) struct Side {
    measured: Measured,
    requests: Requests,
    /// The last run's requests by endpoint (ids replaced by `{id}`), most frequent first.
    endpoints: Vec<(String, usize)>,
}

/// Requests grouped by method and path with every id-like segment (a GUID, a UPN) made
/// `{id}`, most frequent first: where a side's requests go.
pub(crate) fn by_endpoint(log: &[ServedRequest]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for request in log {
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

pub(crate) enum Comparison {
    Measured {
        version: String,
        latency_milliseconds: u64,
        tenant_users: usize,
        cloud_users: usize,
        links: usize,
        hardmatch: Box<Side>,
        manual: Box<Side>,
        runs: usize,
    },
    Skipped(String),
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
            .entry(user.user_principal_name.to_lowercase())
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
    output::message(&format!(
        "manual procedure: {} links in {tenant_users} users, {} ms latency, hardmatch vs the Graph SDK × {runs} runs",
        links.len(),
        arguments.latency_ms
    ));
    let mut hardmatch_samples = Vec::new();
    let mut hardmatch_requests = Vec::new();
    let mut hardmatch_endpoints = Vec::new();
    let mut manual_samples = Vec::new();
    let mut manual_requests = Vec::new();
    let mut manual_endpoints = Vec::new();
    for run in 0..runs {
        let (sample, log) = run_hardmatch(
            arguments,
            &fixture,
            &ad_path,
            &mapping_csv,
            &app,
            links.len(),
            work,
            run,
        )?;
        hardmatch_samples.push(sample);
        hardmatch_requests.push(Requests::of(&log));
        hardmatch_endpoints = by_endpoint(&log);
        let (sample, log) = run_manual(
            arguments, &python, &script, &fixture, &users_csv, &app, work,
        )?;
        manual_samples.push(sample);
        manual_requests.push(Requests::of(&log));
        manual_endpoints = by_endpoint(&log);
    }
    Ok(Comparison::Measured {
        version: version.to_owned(),
        latency_milliseconds: arguments.latency_ms,
        tenant_users,
        cloud_users: tenant.users.len(),
        links: links.len(),
        hardmatch: Box::new(Side {
            measured: Measured::of(&hardmatch_samples),
            requests: Requests::median(&hardmatch_requests),
            endpoints: hardmatch_endpoints,
        }),
        manual: Box::new(Side {
            measured: Measured::of(&manual_samples),
            requests: Requests::median(&manual_requests),
            endpoints: manual_endpoints,
        }),
        runs,
    })
}

/// `hardmatch plan` (reading the tenant) then `hardmatch apply --yes`, on a fresh emulator;
/// the sample is the two processes' wall and CPU summed, and the larger peak RSS.
#[allow(clippy::too_many_arguments)]
fn run_hardmatch(
    arguments: &BenchArgs,
    fixture: &Path,
    ad: &Path,
    mapping: &Path,
    app: &App,
    links: usize,
    work: &Path,
    run: usize,
) -> anyhow::Result<(Sample, Vec<ServedRequest>)> {
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
        links.to_string(),
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
    let requests = emulator.requests()?;
    let _ignored = std::fs::remove_dir_all(&workspace);
    Ok((
        Sample {
            wall_seconds: planned.wall_seconds + applied.wall_seconds,
            peak_rss_kib: planned.peak_rss_kib.max(applied.peak_rss_kib),
            cpu_seconds: planned.cpu_seconds + applied.cpu_seconds,
        },
        requests,
    ))
}

/// The Graph SDK script on a fresh emulator.
fn run_manual(
    arguments: &BenchArgs,
    python: &Path,
    script: &Path,
    fixture: &Path,
    users: &Path,
    app: &App,
    work: &Path,
) -> anyhow::Result<(Sample, Vec<ServedRequest>)> {
    let emulator =
        EmulatorProcess::start(&arguments.hardmatch, fixture, arguments.latency_ms, true)?;
    let ca = emulator
        .ca_certificate
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    let host = emulator.url.trim_start_matches("https://").to_owned();
    let graph_url = format!("{}/v1.0", emulator.url);
    let report = work.join("manual-procedure.json");
    let sample = timed_with_env_accepting(
        python,
        &[script.display().to_string(), users.display().to_string()],
        Some(&report),
        work,
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
    Ok((sample, emulator.requests()?))
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
        manual,
        runs,
    } = section
    else {
        if let Comparison::Skipped(reason) = section {
            let _ = writeln!(text, "Not measured in this run: {reason}.");
        }
        return;
    };
    let _ = writeln!(
        text,
        "{links} AD users to link in a generated tenant of {} AD users ({} cloud users), each \
         with a sync-created duplicate holding its ImmutableID and an unlinked cloud account \
         with its UPN, served by `hardmatch emulator --tls --latency-ms {latency_milliseconds}` \
         with the real quotas; a fresh emulator for every run of either side, {runs} run(s) \
         each, alternating. \
         Baseline: tests/graph-sdk/manual_procedure.py, the classic guides' procedure with \
         Microsoft's msgraph-sdk, one user at a time: the active holder of the ImmutableID \
         (with `$filter=onPremisesImmutableId eq …`, where the guides list all users and look, \
         which favours the baseline), the deleted items (filtered the same way), delete the \
         duplicate, purge it, get the real account by UPN, set its ImmutableID. hardmatch \
         ({version}): `hardmatch plan --mapping` (the same {links} users) reading the tenant \
         live, then `hardmatch apply --yes`; its wall time is the two commands' sum. Requests \
         are HTTP requests in the emulator's log; a `$batch` counts once here, while each \
         operation in it counts against the quotas.\n\n\
         | | Requests | Reads | Single writes | `$batch` | Tokens | 429s | Wall (median) | Wall (fastest–slowest) | CPU | Peak RSS |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        thousands(*tenant_users),
        thousands(*cloud_users),
    );
    for (name, side) in [
        ("hardmatch", &**hardmatch),
        ("manual (Graph SDK)", &**manual),
    ] {
        let _ = writeln!(
            text,
            "| {name} | {} | {} | {} | {} | {} | {} | {:.1} s | {:.1}–{:.1} s | {:.1} s | {:.0} MiB |",
            thousands(side.requests.total()),
            thousands(side.requests.reads),
            thousands(side.requests.writes),
            thousands(side.requests.batches),
            side.requests.tokens,
            side.requests.throttled,
            side.measured.wall_seconds,
            side.measured.fastest_wall_seconds,
            side.measured.slowest_wall_seconds,
            side.measured.cpu_seconds,
            side.measured.rss_mib(),
        );
    }
    let request_ratio = ratio(
        manual.requests.total() as f64,
        hardmatch.requests.total() as f64,
    );
    let time_ratio = ratio(
        manual.measured.wall_seconds,
        hardmatch.measured.wall_seconds,
    );
    let verdict = |achieved: f64, goal: f64| {
        if achieved >= goal {
            "met".to_owned()
        } else {
            format!("missed by {:.0}%", (1.0 - achieved / goal) * 100.0)
        }
    };
    let _ = writeln!(
        text,
        "\nhardmatch uses {request_ratio:.1}× fewer requests (goal ≥ {GOAL_REQUESTS:.0}×: {}) \
         and {time_ratio:.1}× less time (goal ≥ {GOAL_TIME:.0}×: {}). The manual procedure \
         pays {:.1} requests per user, each a round trip of at least {latency_milliseconds} ms \
         in sequence; hardmatch reads the whole tenant in ⌈M/999⌉ pages once and sends its \
         writes in `$batch` requests, several in flight.",
        verdict(request_ratio, GOAL_REQUESTS),
        verdict(time_ratio, GOAL_TIME),
        manual.requests.total() as f64 / (*links).max(1) as f64,
    );
    for (name, side) in [
        ("hardmatch", &**hardmatch),
        ("The manual procedure", &**manual),
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
