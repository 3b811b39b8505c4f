//! Bulk apply against the write quota: issue 8's goal of at least 90% of the quota's rate
//! with zero failed actions, over 1000 ImmutableID writes, and a run of 6000 that is
//! longer than the quota's window and so shows the rate the pacer sustains.
//!
//! One run (`hardmatch-bench apply-rate`) starts the emulator in this process with its
//! throttling on, generates a directory where every AD user has a licensed cloud account
//! to hard-match (the generator's soft-match category, which the planner turns into one
//! `set_immutable_id` each), plans it, and applies the plan through the executor and the
//! Graph client exactly as `hardmatch apply` does. Its own clock times the apply from the
//! start to the last successful write; the emulator's request log gives the requests
//! made and the 429s met. `scripts/bench` repeats runs in fresh processes and reports the
//! medians, since a run depends on the pacer's state and the machine's load.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hardmatch_core::ad::AdSnapshot;
use hardmatch_core::diagnose::{DiagnoseOptions, diagnose};
use hardmatch_core::plan::{
    ActionKind, Directory, PlanAction, PlanInput, PlanPolicy, Selection, plan,
};
use hardmatch_emulator::{EmulatorOptions, Fixture, RunningEmulator, SyncRequest};
use hardmatch_executor::adapters::{GraphCloud, SnapshotDirectory};
use hardmatch_executor::journal::ActionState;
use hardmatch_executor::ports::{PortError, Sent, SyncPort};
use hardmatch_executor::workspace::Workspace;
use hardmatch_executor::{Observer, Ports, RunOptions};
use hardmatch_graph::{CredentialSettings, GraphClient, GraphSettings, PacingSettings, Secret};
use serde::{Deserialize, Serialize};

use crate::bench::{BenchArgs, NOT_MEASURED, median, thousands};
use crate::generate::{Options, generate};
use crate::output;
use crate::rates::Rates;

/// The goal's share of the write quota.
const GOAL_SHARE: f64 = 0.9;

#[derive(clap::Args, Debug)]
pub struct ApplyRateArgs {
    /// AD users to link, one ImmutableID write each.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// What one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub writes: usize,
    pub failed_actions: usize,
    /// Actions in any state but `succeeded`.
    pub unsuccessful_actions: usize,
    /// From the start of the apply to the last successful ImmutableID write.
    pub seconds: f64,
    /// The most writes that succeeded in any 150-second window (the write quota's), which
    /// the pacer keeps within 90% of the quota.
    pub busiest_window_writes: usize,
    /// HTTP requests the emulator served during the apply (a `$batch` counts once).
    pub requests: usize,
    /// Of those, the requests that carried writes (a `$batch` of writes counts once).
    pub write_requests: usize,
    pub throttled: usize,
    pub quota_writes_per_second: f64,
    /// How long the Graph client's pacer held requests back, in all.
    #[serde(default)]
    pub pacing_wait_seconds: f64,
    /// AD actions the plan runs before its cloud writes, and when the first ImmutableID
    /// write was journaled in flight.
    #[serde(default)]
    pub ad_actions: usize,
    #[serde(default)]
    pub first_write_seconds: f64,
    /// When each tenth of the writes had succeeded, in seconds from the start: the waves
    /// the write window lets through.
    #[serde(default)]
    pub tenths_seconds: Vec<f64>,
}

impl RunReport {
    fn writes_per_second(&self) -> f64 {
        self.writes as f64 / self.seconds.max(1e-9)
    }
}

/// The quota's window, over which the busiest stretch of a run is counted.
const WRITE_WINDOW: Duration = Duration::from_secs(150);

/// The most instants of `times` (sorted) in any window of `length`.
fn busiest_window(times: &[Duration], length: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for (end, time) in times.iter().enumerate() {
        while times
            .get(start)
            .is_some_and(|first| *time - *first >= length)
        {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

/// Timestamps every successful ImmutableID write.
struct WriteClock {
    started: Instant,
    writes: Mutex<Vec<Duration>>,
    /// When the first ImmutableID write was journaled in flight: what came before it is
    /// the plan's AD preparation.
    first_in_flight: Mutex<Option<Duration>>,
}

impl Observer for WriteClock {
    fn action(&self, action: &PlanAction, state: ActionState, _detail: Option<&str>) {
        if action.kind != ActionKind::SetImmutableId {
            return;
        }
        let elapsed = self.started.elapsed();
        match state {
            ActionState::Succeeded => {
                if let Ok(mut writes) = self.writes.lock() {
                    writes.push(elapsed);
                }
            }
            ActionState::InFlight => {
                if let Ok(mut first) = self.first_in_flight.lock() {
                    first.get_or_insert(elapsed);
                }
            }
            _ => {}
        }
    }
}

/// The emulator's own cycle over the in-memory AD: the plan's last action.
struct EmulatorCycle<'a> {
    emulator: &'a RunningEmulator,
    directory: &'a SnapshotDirectory,
}

impl SyncPort for EmulatorCycle<'_> {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        let report = self
            .emulator
            .run_sync(SyncRequest {
                ad_users: Some(self.directory.users()),
                ..SyncRequest::default()
            })
            .map_err(|error| PortError::new(error.to_string()))?;
        Ok(Sent {
            request_id: None,
            response: Some(report),
        })
    }
}

/// Every AD user with a licensed cloud-only account of the same UPN, nothing else.
fn directory(arguments: &ApplyRateArgs) -> anyhow::Result<(AdSnapshot, Fixture)> {
    let mut options = Options::new(arguments.seed, arguments.users);
    options.rates = Rates {
        linked: 0.0,
        soft_match: 1.0,
        duplicate: 0.0,
        recycle_bin: 0.0,
        licensed_holder: 0.0,
        proxy_conflict: 0.0,
        admin: 0.0,
        orphan: 0.0,
        cloud_only: 0.0,
        unverified_suffix: 0.0,
        disabled: 0.0,
        consistency_guid: 0.0,
    };
    let (mut ad, mut tenant) = (Vec::new(), Vec::new());
    generate(&options, &mut ad, &mut tenant, &mut std::io::sink())?;
    let ad: AdSnapshot = serde_json::from_slice(&ad).context("reading the generated AD")?;
    let mut fixture =
        Fixture::from_json(std::str::from_utf8(&tenant).context("reading the generated tenant")?)?;
    // The real quotas: what this benchmark measures the executor under.
    fixture.settings.throttling_enabled = true;
    Ok((ad, fixture))
}

/// One run, in this process; prints its report as one JSON line.
pub fn run(arguments: &ApplyRateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure(arguments))?;
    output::data(&serde_json::to_string(&report)?)?;
    Ok(())
}

async fn measure(arguments: &ApplyRateArgs) -> anyhow::Result<RunReport> {
    let (ad, fixture) = directory(arguments)?;
    let app = fixture
        .apps
        .first()
        .cloned()
        .context("the generated tenant has no app")?;
    let secret = app
        .client_secret
        .clone()
        .context("the generated app has no client secret")?;
    let emulator = hardmatch_emulator::start(EmulatorOptions::new(fixture)).await?;
    let mut settings = GraphSettings::new(CredentialSettings::ClientSecret(Secret::new(secret)));
    settings.tenant_id = Some(emulator.tenant_id());
    settings.client_id = Some(app.client_id.clone());
    settings.authority_url = Some(emulator.authority_url());
    settings.graph_url = Some(emulator.graph_url());
    // Planning reads the whole tenant; `hardmatch apply` runs in a process of its own, so
    // the apply gets a client of its own too, its pacer not in debt from that read.
    let planning = GraphClient::connect(settings.clone()).await?;
    let tenant = hardmatch_graph::snapshot_tenant(&planning, &hardmatch_graph::NoProgress).await?;
    let diagnosis = diagnose(&ad.users, &tenant, &DiagnoseOptions::default());
    let planned = plan(&PlanInput {
        ad_users: &ad.users,
        tenant: &tenant,
        diagnosis: &diagnosis,
        connector_space: None,
        selection: &Selection::AllSafe,
        policy: &PlanPolicy::default(),
        generated_at: &hardmatch_executor::engine::now(),
    })?;
    let writes = planned
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::SetImmutableId)
        .count();
    if writes != arguments.users {
        bail!(
            "the plan has {writes} ImmutableID writes for {} users",
            arguments.users
        );
    }
    let workspace_directory = tempfile::tempdir()?;
    let mut workspace = Workspace::open(workspace_directory.path())?;
    let directory = SnapshotDirectory::new(ad.users.clone());
    let cloud = GraphCloud::new(GraphClient::connect(settings).await?);
    let sync = EmulatorCycle {
        emulator: &emulator,
        directory: &directory,
    };
    let ports = Ports {
        cloud: &cloud,
        directory: &directory,
        sync: &sync,
    };
    let options = RunOptions {
        operator: "hardmatch-bench".to_owned(),
        tenant: emulator.tenant_id(),
    };
    let requests_before = served(&emulator).len();
    let clock = WriteClock {
        started: Instant::now(),
        writes: Mutex::new(Vec::new()),
        first_in_flight: Mutex::new(None),
    };
    let summary =
        hardmatch_executor::apply(&planned, &mut workspace, &ports, &options, &clock).await?;
    let log = served(&emulator);
    let during = &log[requests_before.min(log.len())..];
    let times = clock.writes.into_inner().unwrap_or_default();
    let first_in_flight = clock.first_in_flight.into_inner().unwrap_or_default();
    let ad_actions = planned
        .actions
        .iter()
        .filter(|action| action.target.directory == Directory::ActiveDirectory)
        .count();
    let statistics = cloud.client().statistics();
    emulator.shutdown().await;
    let Some(last) = times.last() else {
        bail!("no ImmutableID write succeeded: {:?}", summary.outcome);
    };
    let pacing = PacingSettings::default();
    let requests = Requests::of(during);
    Ok(RunReport {
        writes: times.len(),
        failed_actions: summary.count(ActionState::Failed),
        unsuccessful_actions: summary.actions.len() - summary.count(ActionState::Succeeded),
        seconds: last.as_secs_f64(),
        busiest_window_writes: busiest_window(&times, WRITE_WINDOW),
        requests: requests.requests,
        write_requests: requests.write_requests,
        throttled: requests.throttled,
        quota_writes_per_second: pacing.writes_per_window / pacing.write_window.as_secs_f64(),
        pacing_wait_seconds: statistics.pacing_wait.as_secs_f64(),
        ad_actions,
        first_write_seconds: first_in_flight.map_or(0.0, |instant| instant.as_secs_f64()),
        tenths_seconds: (1..=10)
            .filter_map(|tenth| {
                (times.len() * tenth / 10)
                    .checked_sub(1)
                    .and_then(|index| times.get(index))
            })
            .map(Duration::as_secs_f64)
            .collect(),
    })
}

/// What the emulator's log says about a stretch of requests.
#[derive(Debug, Default, PartialEq)]
struct Requests {
    requests: usize,
    write_requests: usize,
    throttled: usize,
}

impl Requests {
    /// The emulator logs each write item of a `$batch` as `…/$batch/{path}`, just before
    /// the batch itself: those entries are not requests, but mark the batch as one that
    /// carried writes. A 429 counts whether it answered a request or an item.
    fn of(log: &[serde_json::Value]) -> Self {
        let mut requests = Self::default();
        let mut items_pending = false;
        for entry in log {
            let method = entry["method"].as_str().unwrap_or_default();
            let path = entry["path"].as_str().unwrap_or_default();
            if entry["status"].as_u64() == Some(429) {
                requests.throttled += 1;
            }
            if path.contains("/$batch/") {
                items_pending = true;
                continue;
            }
            requests.requests += 1;
            let batch_of_writes = path.ends_with("/$batch") && items_pending;
            let lone_write = method != "GET" && method != "POST" && !path.contains("/oauth2/");
            if batch_of_writes || lone_write {
                requests.write_requests += 1;
            }
            items_pending = false;
        }
        requests
    }
}

/// The emulator's request log, sign-ins included (they are requests too).
fn served(emulator: &RunningEmulator) -> Vec<serde_json::Value> {
    let log = emulator.requests_json();
    log.get("requests")
        .unwrap_or(&log)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The section's content: runs per size.
pub(crate) enum ApplyRate {
    Measured(Vec<(usize, Vec<RunReport>)>),
    Failed(String),
}

/// The run long enough to show the sustained rate: two windows' worth of writes and more.
const LONG_RUN_USERS: usize = 6000;

/// Runs `apply-rate` for 1000 writes `runs` times and for 6000 writes once (it lasts
/// about five minutes, two quota windows), each in a fresh process.
pub(crate) fn bench(this: &Path, arguments: &BenchArgs) -> ApplyRate {
    let mut sizes = Vec::new();
    for (users, repeats) in [(1000, arguments.runs), (LONG_RUN_USERS, 1)] {
        output::message(&format!(
            "bulk apply: {users} ImmutableID writes against the emulator's write quota × {repeats} run(s)"
        ));
        let run_arguments = vec![
            "apply-rate".to_owned(),
            "--users".to_owned(),
            users.to_string(),
            "--seed".to_owned(),
            arguments.seed.to_string(),
        ];
        let mut runs = Vec::new();
        for _ in 0..repeats {
            match run_once(this, &run_arguments) {
                Ok(report) => runs.push(report),
                Err(error) => return ApplyRate::Failed(format!("{error:#}")),
            }
        }
        sizes.push((users, runs));
    }
    ApplyRate::Measured(sizes)
}

/// One run in a child process, which times itself: the figure is the apply's, not the
/// process's start-up and set-up.
fn run_once(this: &Path, arguments: &[String]) -> anyhow::Result<RunReport> {
    let result = std::process::Command::new(this)
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", this.display()))?;
    if !result.status.success() {
        bail!(
            "{} {} failed ({})",
            this.display(),
            arguments.join(" "),
            result.status
        );
    }
    let text = String::from_utf8_lossy(&result.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("reading the run's report `{text}`"))
}

pub(crate) fn render(text: &mut String, section: &ApplyRate) {
    let _ = writeln!(text, "\n## Bulk apply\n");
    let sizes = match section {
        ApplyRate::Measured(sizes) if sizes.iter().all(|(_, runs)| !runs.is_empty()) => sizes,
        ApplyRate::Measured(_) => {
            let _ = writeln!(text, "{NOT_MEASURED}no runs.");
            return;
        }
        ApplyRate::Failed(reason) => {
            let _ = writeln!(text, "{NOT_MEASURED}{reason}.");
            return;
        }
    };
    let quota = median(
        &sizes
            .iter()
            .flat_map(|(_, runs)| runs.iter().map(|run| run.quota_writes_per_second))
            .collect::<Vec<_>>(),
    );
    let window_budget = quota * WRITE_WINDOW.as_secs_f64();
    let _ = writeln!(
        text,
        "`hardmatch-bench apply-rate --users N`: the emulator in-process with its real quotas \
         on (graph-api.md §13: 3,000 writes per app and tenant per 150 s, {quota:.0} writes/s), \
         a plan of N ImmutableID writes (every AD user has a licensed cloud account to \
         hard-match) and its closing sync cycle, applied through the executor and the Graph \
         client as `hardmatch apply` does: every group of 20 targets re-read in one `$batch`, \
         journaled in flight, written in one `$batch`, its outcomes journaled, the \
         ImmutableIDs read back in one more `$batch`. Timed from the start of the apply to the \
         last successful write; 1,000 writes over fresh processes (medians), 6,000 once. \
         \"Busiest 150 s\" is the most writes that succeeded in any window of the quota's \
         length, as a share of the quota ({} writes): what the pacer promises to keep at or \
         under 90%, and what a long job sustains.\n\n\
         | Writes | Runs | Time | Writes/s | Share of quota rate | Busiest 150 s | Failed actions | Requests per link | Write requests | 429s |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        thousands(window_budget.round() as usize),
    );
    let mut verdicts = Vec::new();
    let mut shares = Vec::new();
    for (users, runs) in sizes {
        let of = |value: fn(&RunReport) -> f64| median(&runs.iter().map(value).collect::<Vec<_>>());
        let rate = of(RunReport::writes_per_second);
        let seconds = of(|run| run.seconds);
        let busiest = of(|run| run.busiest_window_writes as f64);
        let requests = of(|run| run.requests as f64);
        let write_requests = of(|run| run.write_requests as f64);
        let throttled = of(|run| run.throttled as f64);
        let failed: usize = runs.iter().map(|run| run.failed_actions).sum();
        let unsuccessful: usize = runs.iter().map(|run| run.unsuccessful_actions).sum();
        let share = rate / quota.max(1e-9);
        let busiest_share = busiest / window_budget.max(1e-9);
        let _ = writeln!(
            text,
            "| {} | {} | {seconds:.1} s | {rate:.1} | {:.0}% | {} ({:.0}%) | {failed} | {:.3} | {write_requests:.0} | {throttled:.0} |",
            thousands(*users),
            runs.len(),
            share * 100.0,
            thousands(busiest as usize),
            busiest_share * 100.0,
            requests / (*users).max(1) as f64,
        );
        shares.push(format!(
            "{} writes at {:.0}% of the quota's rate (busiest window {:.0}%)",
            thousands(*users),
            share * 100.0,
            busiest_share * 100.0
        ));
        if share < GOAL_SHARE {
            verdicts.push(format!(
                "{} writes at {:.0}% of the quota's rate, {:.0}% short",
                thousands(*users),
                share * 100.0,
                (GOAL_SHARE - share) * 100.0
            ));
        }
        if failed > 0 || unsuccessful > 0 {
            verdicts.push(format!(
                "{} writes: {unsuccessful} action(s) did not succeed, {failed} failed",
                thousands(*users)
            ));
        }
    }
    for (users, runs) in sizes {
        let tenths = runs
            .first()
            .map(|run| run.tenths_seconds.clone())
            .unwrap_or_default();
        if *users as f64 > window_budget && !tenths.is_empty() {
            let _ = writeln!(
                text,
                "\nThe {} writes' first run: {} AD actions before the first ImmutableID write, \
                 which left at {:.1} s; each tenth of the writes had succeeded at {} s.",
                thousands(*users),
                runs.first().map_or(0, |run| run.ad_actions),
                runs.first().map_or(0.0, |run| run.first_write_seconds),
                tenths
                    .iter()
                    .map(|seconds| format!("{seconds:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let _ = writeln!(
        text,
        "\nGoal ≥ {:.0}% of the quota's rate with zero failed actions: {}.",
        GOAL_SHARE * 100.0,
        if verdicts.is_empty() {
            format!("met: {}", shares.join(", "))
        } else {
            format!("missed: {}", verdicts.join("; "))
        },
    );
    let _ = writeln!(
        text,
        "\nThe Graph client's pacer admits at most 90% of each quota in any trailing window of \
         its send instants (a log of what it sent, not a token bucket). 1,000 writes are below \
         one window's budget of 2,700: the quota does not slow them, and the rate is the \
         machine's and the emulator's (a share above 100% is within the quota, which limits a \
         window's count, not a speed). 6,000 writes are more than two windows' budget: the \
         pacer lets 2,700 through, then holds each further write until a sent one leaves the \
         window, so no 429 is met and a job of many windows sustains 90% of the quota's rate; \
         over a run of two windows the average is higher, since the first window's writes go \
         at once. The busiest-window column counts successes, which lag their sends by the \
         batch's answer and the read-back, unevenly: it can show one batch (20 writes) more \
         than the 2,700 the pacer sent in any window. The time includes the plan's AD \
         actions, which run before its cloud writes (to the in-memory AD here, each journaled \
         on its own); the third window's writes wait for the first window's to leave it, so \
         that delay shows again at the end. Requests per link count every HTTP \
         request of the apply (sign-in, tenant size, role reads, re-reads, writes, read-backs) \
         over the writes."
    );
}
