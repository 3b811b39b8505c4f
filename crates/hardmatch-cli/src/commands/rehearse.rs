//! `hardmatch rehearse`: what a plan will do, found out by doing it to a copy.
//!
//! A prediction read off the plan could only repeat the planner's own assumptions. A
//! rehearsal instead loads the tenant snapshot into the bundled emulator, runs the plan
//! through the real executor (journal, preconditions and all) against it, with AD changes
//! going to an in-memory copy of the AD users, then runs the emulator's sync cycle (the
//! core's `run_sync_cycle`, the rules `status` predicts with) and diagnoses the result.
//! [`EmulatedTenant`] is shared with `hardmatch demo`, which is a rehearsal of a bundled
//! tenant told step by step.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;

use anyhow::Context as _;
use hardmatch_core::ad::{AdSnapshot, AdUser};
use hardmatch_core::diagnose::{DiagnoseOptions, Status, TenantFindingKind, diagnose};
use hardmatch_core::plan::{Plan, SIGN_IN_ACTIVITY};
use hardmatch_core::sync::{ConnectorSpace, SyncEngine, SyncErrorKind, SyncReport, SyncScope};
use hardmatch_core::tenant::{
    TENANT_SNAPSHOT_FORMAT_VERSION, TenantSnapshot, TenantSnapshotSource,
};
use hardmatch_emulator::{EmulatorOptions, Fixture, RunningEmulator, SyncRequest};
use hardmatch_executor::adapters::{GraphCloud, SnapshotDirectory};
use hardmatch_executor::journal::ActionState;
use hardmatch_executor::ports::{PortError, Sent, SyncPort};
use hardmatch_executor::workspace::Workspace;
use hardmatch_executor::{Observer, Ports, RunOptions, RunSummary};
use hardmatch_graph::{CredentialSettings, GraphClient, GraphSettings, Secret};
use serde::Serialize;

use crate::ExitStatus;
use crate::args::RehearseArgs;
use crate::commands::plan::read_plan;
use crate::commands::status::{describe, diagnose_options};
use crate::error::Hinted;
use crate::printer::Printer;
use crate::sources::{
    Context, TenantInput, graph_error, load_ad, read_tenant_snapshot, resolve_ad, runtime,
};
use crate::table;

/// The bundled emulator running inside this process, with the tenant it was given and
/// the sign-in settings of an app it accepts. Nothing it serves leaves loopback.
pub(crate) struct EmulatedTenant {
    runtime: tokio::runtime::Runtime,
    emulator: RunningEmulator,
    settings: GraphSettings,
}

impl EmulatedTenant {
    pub(crate) fn start(mut fixture: Fixture) -> anyhow::Result<Self> {
        let app = fixture.ensure_lab_app().cloned().ok_or_else(|| {
            anyhow::anyhow!("the emulated tenant has no app registration to sign in with")
        })?;
        let secret = app.client_secret.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "the emulated tenant's app `{}` has no client secret",
                app.client_id
            )
        })?;
        let runtime = runtime()?;
        // The server task runs on the runtime's workers, so it keeps serving while this
        // thread is outside `block_on` (in the commands' own blocking reads).
        let emulator = runtime
            .block_on(hardmatch_emulator::start(EmulatorOptions::new(fixture)))
            .map_err(|error| {
                Hinted::new(
                    format!("cannot start the built-in emulator: {error}"),
                    "it listens on a free port of 127.0.0.1; check that loopback networking works",
                )
            })?;
        let mut settings =
            GraphSettings::new(CredentialSettings::ClientSecret(Secret::new(secret)));
        settings.tenant_id = Some(emulator.tenant_id());
        settings.client_id = Some(app.client_id);
        settings.authority_url = Some(emulator.base_url().to_owned());
        settings.graph_url = Some(emulator.base_url().to_owned());
        Ok(Self {
            runtime,
            emulator,
            settings,
        })
    }

    pub(crate) fn url(&self) -> &str {
        self.emulator.base_url()
    }

    /// The emulator as a live tenant source, for the commands' own tenant reads.
    pub(crate) fn tenant_input(&self) -> TenantInput {
        TenantInput::Live(Box::new(self.settings.clone()))
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub(crate) fn connect(&self) -> anyhow::Result<GraphClient> {
        self.block_on(GraphClient::connect(self.settings.clone()))
            .map_err(graph_error)
    }

    /// The tenant as the emulator holds it now, with Connect's real joins.
    pub(crate) fn state(&self) -> anyhow::Result<(TenantSnapshot, ConnectorSpace)> {
        let fixture: Fixture = serde_json::from_value(self.emulator.state_json())
            .context("the emulator's state does not read back as a fixture")?;
        let users = fixture
            .cloud_users()
            .context("the emulator's state holds an unreadable user")?;
        let snapshot = TenantSnapshot {
            format_version: TENANT_SNAPSHOT_FORMAT_VERSION,
            source: TenantSnapshotSource {
                kind: "emulator".to_owned(),
                location: self.emulator.graph_url(),
            },
            taken_at: hardmatch_executor::engine::now(),
            tenant: fixture.tenant,
            users,
            role_definitions: fixture.role_definitions,
            role_assignments: fixture.role_assignments,
            role_eligibilities: fixture.role_eligibilities,
        };
        Ok((
            snapshot,
            ConnectorSpace {
                joins: fixture.connector_space,
            },
        ))
    }

    pub(crate) fn shutdown(self) {
        let Self {
            runtime, emulator, ..
        } = self;
        runtime.block_on(emulator.shutdown());
    }
}

/// The emulator's sync cycle over the in-memory AD, as the executor's sync port; keeps
/// every cycle's report.
pub(crate) struct EmulatedSync<'a> {
    pub(crate) emulator: &'a EmulatedTenant,
    pub(crate) directory: &'a SnapshotDirectory,
    pub(crate) scope: SyncScope,
    pub(crate) engine: SyncEngine,
    pub(crate) reports: Mutex<Vec<SyncReport>>,
}

impl<'a> EmulatedSync<'a> {
    pub(crate) fn new(
        emulator: &'a EmulatedTenant,
        directory: &'a SnapshotDirectory,
        options: &DiagnoseOptions,
    ) -> Self {
        Self {
            emulator,
            directory,
            scope: options.scope.clone(),
            engine: options.sync.engine,
            reports: Mutex::new(Vec::new()),
        }
    }

    /// Runs one cycle now and returns its report.
    pub(crate) fn cycle(&self) -> Result<SyncReport, PortError> {
        let value = self
            .emulator
            .emulator
            .run_sync(SyncRequest {
                ad_users: Some(self.directory.users()),
                scope: self.scope.clone(),
                engine: self.engine,
                ..SyncRequest::default()
            })
            .map_err(|error| PortError::new(error.to_string()))?;
        let report: SyncReport = serde_json::from_value(value)
            .map_err(|error| PortError::new(format!("unreadable sync report: {error}")))?;
        if let Ok(mut reports) = self.reports.lock() {
            reports.push(report.clone());
        }
        Ok(report)
    }
}

impl SyncPort for EmulatedSync<'_> {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        let report = self.cycle()?;
        Ok(Sent {
            request_id: None,
            response: serde_json::to_value(&report).ok(),
        })
    }
}

/// Runs `plan` through the executor against the emulated tenant, with a journal in
/// `workspace`.
pub(crate) fn execute(
    plan: &Plan,
    emulated: &EmulatedTenant,
    client: GraphClient,
    directory: &SnapshotDirectory,
    sync: &EmulatedSync<'_>,
    workspace: &std::path::Path,
    observer: &dyn Observer,
) -> anyhow::Result<RunSummary> {
    let mut workspace = Workspace::open(workspace).map_err(|error| match error.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(error.to_string(), hint)),
        None => error.into(),
    })?;
    let cloud = GraphCloud::new(client);
    let ports = Ports {
        cloud: &cloud,
        directory,
        sync,
    };
    let options = RunOptions {
        operator: "rehearsal".to_owned(),
        tenant: plan.tenant_id.clone(),
    };
    emulated
        .block_on(hardmatch_executor::apply(
            plan,
            &mut workspace,
            &ports,
            &options,
            observer,
        ))
        .map_err(|error| match error.hint() {
            Some(hint) => anyhow::Error::new(Hinted::new(error.to_string(), hint)),
            None => error.into(),
        })
}

/// One planned user's predicted end state.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Prediction {
    pub(crate) user: String,
    pub(crate) user_principal_name: Option<String>,
    pub(crate) target: String,
    pub(crate) target_id: String,
    /// `linked` or `broken`.
    pub(crate) predicted: &'static str,
    /// The diagnosis of the state after the cycle.
    pub(crate) status: String,
    pub(crate) detail: String,
    pub(crate) evidence: Vec<String>,
    /// Errors the last cycle raised for this user, as Connect would report them.
    pub(crate) sync_errors: Vec<String>,
}

/// A cloud account the rehearsal's cycles created next to an account the person already had.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct NewDuplicate {
    pub(crate) cloud_user_id: String,
    pub(crate) user_principal_name: String,
    pub(crate) detail: String,
}

/// The end state after the plan and a cycle.
pub(crate) struct Outcome {
    pub(crate) predictions: Vec<Prediction>,
    pub(crate) new_duplicates: Vec<NewDuplicate>,
    /// Duplicates the next cycle creates with or without the plan, for users it does not
    /// touch (`status` already predicts them).
    pub(crate) duplicates_without_the_plan: Vec<NewDuplicate>,
}

/// Reads the end state: diagnoses the emulator's tenant against the AD as the cycle saw
/// it, then judges each planned user and looks for duplicates that were not there before.
pub(crate) fn predict(
    plan: &Plan,
    emulated: &EmulatedTenant,
    ad_users: &[AdUser],
    before: &TenantSnapshot,
    cycles: &[SyncReport],
    options: &DiagnoseOptions,
) -> anyhow::Result<Outcome> {
    // Creations the next cycle makes without any plan (`status` predicts them) are not the
    // plan's doing.
    let unplanned: HashSet<String> = diagnose(ad_users, before, options)
        .predicted_sync
        .creations
        .iter()
        .map(|creation| creation.source_anchor.as_str().to_owned())
        .collect();
    let (tenant, connector_space) = emulated.state()?;
    let mut options = options.clone();
    options.connector_space = Some(connector_space);
    let after = diagnose(ad_users, &tenant, &options);
    let predictions = plan
        .users
        .iter()
        .map(|planned| {
            let status = after
                .users
                .iter()
                .find(|user| user.immutable_id() == planned.immutable_id);
            // A quarantine is reported by the cycle that raised it; later cycles keep it
            // quietly, so every cycle of the rehearsal counts.
            let mut sync_errors: Vec<String> = Vec::new();
            for error in cycles.iter().flat_map(|report| &report.errors) {
                if error.source_anchor.as_ref().map(|anchor| anchor.as_str())
                    != Some(planned.immutable_id.as_str())
                {
                    continue;
                }
                let text = match &error.property {
                    Some(property) => format!("{} on {property}: {}", error.code, error.message),
                    None => format!("{}: {}", error.code, error.message),
                };
                if !sync_errors.contains(&text) {
                    sync_errors.push(text);
                }
            }
            // Duplicate attribute resiliency reports a clash as a provisioning error on the
            // object instead of a failed export: Connect's AttributeValueMustBeUnique.
            let errors_of = |users: &[hardmatch_core::tenant::CloudUser]| {
                users
                    .iter()
                    .find(|user| user.id == planned.target_id)
                    .map(|user| user.on_premises_provisioning_errors.clone())
                    .unwrap_or_default()
            };
            let earlier = errors_of(&before.users);
            for error in errors_of(&tenant.users) {
                if earlier.contains(&error) {
                    continue;
                }
                sync_errors.push(format!(
                    "{} on {}: {} is held by another object and was quarantined ({})",
                    SyncErrorKind::AttributeValueMustBeUnique.code(),
                    error
                        .property_causing_error
                        .as_deref()
                        .unwrap_or("a property"),
                    error.value.as_deref().unwrap_or("a value"),
                    error.category.as_deref().unwrap_or("PropertyConflict"),
                ));
            }
            let linked = status.is_some_and(|status| {
                status.status == Status::Linked
                    && status.cloud_user_id() == Some(planned.target_id.as_str())
            }) && sync_errors.is_empty();
            Prediction {
                user: planned.distinguished_name.clone(),
                user_principal_name: planned.user_principal_name.clone(),
                target: planned.target_user_principal_name.clone(),
                target_id: planned.target_id.clone(),
                predicted: if linked { "linked" } else { "broken" },
                status: status.map_or_else(
                    || "absent".to_owned(),
                    |status| status.status.name().to_owned(),
                ),
                detail: status.map_or_else(
                    || "the AD user is no longer in the AD input".to_owned(),
                    |status| describe(&status.status),
                ),
                evidence: status
                    .map(|status| {
                        status
                            .evidence
                            .iter()
                            .map(|evidence| evidence.detail.to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                sync_errors,
            }
        })
        .collect();
    let existed: HashSet<&str> = before.users.iter().map(|user| user.id.as_str()).collect();
    let mut new_duplicates = Vec::new();
    let mut duplicates_without_the_plan = Vec::new();
    for finding in after.tenant_findings.iter().filter(|finding| {
        finding.kind == TenantFindingKind::SyncCreatedDuplicate
            && !existed.contains(finding.cloud_user_id)
    }) {
        let anchor = tenant
            .users
            .iter()
            .find(|user| user.id == finding.cloud_user_id)
            .and_then(|user| user.on_premises_immutable_id.as_ref());
        let duplicate = NewDuplicate {
            cloud_user_id: finding.cloud_user_id.to_owned(),
            user_principal_name: finding.user_principal_name.to_owned(),
            detail: finding.detail.to_string(),
        };
        if anchor.is_some_and(|anchor| unplanned.contains(anchor.as_str())) {
            duplicates_without_the_plan.push(duplicate);
        } else {
            new_duplicates.push(duplicate);
        }
    }
    Ok(Outcome {
        predictions,
        new_duplicates,
        duplicates_without_the_plan,
    })
}

/// Counts actions as they finish, and says at once when one does not succeed.
pub(crate) struct Tally<'a> {
    pub(crate) printer: &'a Printer,
    pub(crate) counter: Option<crate::progress::Counter>,
    finished: Mutex<u64>,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(printer: &'a Printer, counter: Option<crate::progress::Counter>) -> Self {
        Self {
            printer,
            counter,
            finished: Mutex::new(0),
        }
    }
}

impl Observer for Tally<'_> {
    fn action(
        &self,
        action: &hardmatch_core::plan::PlanAction,
        state: ActionState,
        detail: Option<&str>,
    ) {
        if matches!(state, ActionState::Pending | ActionState::InFlight) {
            return;
        }
        if let Ok(mut finished) = self.finished.lock() {
            *finished += 1;
            if let Some(counter) = &self.counter {
                counter.set_position(*finished);
            }
        }
        if matches!(state, ActionState::Failed | ActionState::Stale) {
            let message = format!(
                "{} {} {} {}{}",
                action.id,
                action.kind.name(),
                state.name(),
                hardmatch_executor::engine::describe_target(action),
                detail
                    .map(|detail| format!(": {detail}"))
                    .unwrap_or_default()
            );
            match &self.counter {
                Some(counter) => counter.warning(&message),
                None => self.printer.warning(&message),
            }
        }
    }
}

/// Loads a tenant snapshot into an emulator, with the joins Connect most likely holds
/// for these AD users (a snapshot does not carry the connector space).
fn fixture_of(snapshot: &TenantSnapshot, ad: &AdSnapshot, plan: &Plan) -> anyhow::Result<Fixture> {
    let mut fixture = Fixture::from_snapshot(snapshot).map_err(|error| {
        Hinted::new(
            format!("the tenant snapshot cannot be emulated: {error}"),
            "take a fresh one with `hardmatch snapshot tenant -o FILE`",
        )
    })?;
    fixture.connector_space = ConnectorSpace::infer(&ad.users, &snapshot.users).joins;
    // Quotas only slow a rehearsal down; Graph's answers are the same without them.
    fixture.settings.throttling_enabled = false;
    serve_planned_sign_ins(&mut fixture, plan);
    Ok(fixture)
}

/// A snapshot carries no sign-in activity (`snapshot tenant` reads none), but a soft delete
/// whose plan read it relies on it: the emulated tenant serves, where the snapshot has none,
/// what the plan read, as the rehearsal plays the tenant as planned. Without, every such
/// delete would be rehearsed as stale.
fn serve_planned_sign_ins(fixture: &mut Fixture, plan: &Plan) {
    let read: HashMap<&str, &serde_json::Value> = plan
        .actions
        .iter()
        .filter_map(|action| {
            let id = action.target.id.as_deref()?;
            Some((
                id,
                action.precondition.as_ref()?.expected(SIGN_IN_ACTIVITY)?,
            ))
        })
        .collect();
    if read.is_empty() {
        return;
    }
    for user in &mut fixture.users {
        let id = user.get("id").and_then(serde_json::Value::as_str);
        if let Some(&activity) = id.and_then(|id| read.get(id)) {
            user.entry(SIGN_IN_ACTIVITY)
                .or_insert_with(|| activity.clone());
        }
    }
    fixture.ensure_entra_id_premium();
}

#[derive(Serialize)]
struct RehearsalReport<'a> {
    plan_users: usize,
    predicted_linked: usize,
    apply: ApplyCounts,
    users: &'a [Prediction],
    new_duplicates: &'a [NewDuplicate],
    duplicates_without_the_plan: &'a [NewDuplicate],
}

#[derive(Serialize)]
pub(crate) struct ApplyCounts {
    pub(crate) outcome: String,
    pub(crate) succeeded: usize,
    pub(crate) failed: usize,
    pub(crate) stale: usize,
    pub(crate) skipped: usize,
}

impl ApplyCounts {
    pub(crate) fn of(summary: &RunSummary) -> Self {
        Self {
            outcome: summary.outcome.clone(),
            succeeded: summary.count(ActionState::Succeeded),
            failed: summary.count(ActionState::Failed),
            stale: summary.count(ActionState::Stale),
            skipped: summary.count(ActionState::Skipped),
        }
    }
}

pub(crate) fn run(arguments: &RehearseArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let plan = read_plan(&arguments.plan)?;
    let before = read_tenant_snapshot(&arguments.tenant_snapshot)?;
    let ad = load_ad(&resolve_ad(&arguments.ad, context)?, context)?;
    // A plan names its targets by object id and its preconditions by their state in one
    // tenant: on another tenant's copy it would predict nothing true.
    if !plan.tenant_id.is_empty() && !plan.tenant_id.eq_ignore_ascii_case(&before.tenant.id) {
        return Err(Hinted::new(
            format!(
                "the plan was made for tenant {}, but `{}` is a snapshot of tenant {}",
                plan.tenant_id,
                arguments.tenant_snapshot.display(),
                before.tenant.id
            ),
            "rehearse with a snapshot of the plan's tenant (`hardmatch snapshot tenant`), or \
             make a new plan from this snapshot with `hardmatch plan`",
        )
        .into());
    }
    let options = diagnose_options(&arguments.diagnosis, &before);
    let emulated = EmulatedTenant::start(fixture_of(&before, &ad, &plan)?)?;
    printer.status(&format!(
        "rehearsing {} actions for {} users on an emulated copy of {} (nothing is sent to the tenant or to AD)",
        plan.actions.len(),
        plan.users.len(),
        before.tenant.initial_domain
    ));
    let directory = SnapshotDirectory::new(ad.users.clone());
    let sync = EmulatedSync::new(&emulated, &directory, &options);
    let work =
        tempfile::tempdir().context("cannot create a directory for the rehearsal journal")?;
    let client = emulated.connect()?;
    let summary = execute(
        &plan,
        &emulated,
        client,
        &directory,
        &sync,
        &work.path().join("workspace"),
        &Tally::new(printer, None),
    )?;
    sync.cycle()
        .map_err(|error| anyhow::anyhow!("the emulated sync cycle failed: {}", error.message))?;
    let cycles = sync
        .reports
        .lock()
        .map(|reports| reports.clone())
        .unwrap_or_default();
    let outcome = predict(
        &plan,
        &emulated,
        &directory.users(),
        &before,
        &cycles,
        &options,
    )?;
    emulated.shutdown();

    let linked = outcome
        .predictions
        .iter()
        .filter(|prediction| prediction.predicted == "linked")
        .count();
    if arguments.json {
        let report = RehearsalReport {
            plan_users: plan.users.len(),
            predicted_linked: linked,
            apply: ApplyCounts::of(&summary),
            users: &outcome.predictions,
            new_duplicates: &outcome.new_duplicates,
            duplicates_without_the_plan: &outcome.duplicates_without_the_plan,
        };
        printer.data_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        printer.data(&render(&outcome))?;
    }
    let counts = ApplyCounts::of(&summary);
    printer.status(&format!(
        "apply would end {} ({} succeeded, {} failed, {} stale, {} skipped); after the sync cycle \
         {linked} of {} planned users are linked, {} new duplicate(s)",
        counts.outcome,
        counts.succeeded,
        counts.failed,
        counts.stale,
        counts.skipped,
        plan.users.len(),
        outcome.new_duplicates.len()
    ));
    if linked == plan.users.len() && outcome.new_duplicates.is_empty() {
        Ok(ExitStatus::Success)
    } else {
        printer.notice(
            "hint: the users above would not end linked; fix what their evidence names, make a \
             new plan, and rehearse it again before applying",
        );
        Ok(ExitStatus::Failure)
    }
}

fn render(outcome: &Outcome) -> String {
    let rows: Vec<Vec<String>> = outcome
        .predictions
        .iter()
        .map(|prediction| {
            let why = prediction
                .sync_errors
                .iter()
                .chain(&prediction.evidence)
                .next()
                .cloned()
                .unwrap_or_default();
            vec![
                prediction
                    .user_principal_name
                    .clone()
                    .unwrap_or_else(|| prediction.user.clone()),
                prediction.predicted.to_owned(),
                prediction.target.clone(),
                if prediction.predicted == "linked" {
                    String::new()
                } else {
                    format!("{}: {why}", prediction.detail)
                },
            ]
        })
        .collect();
    let mut text = table::render(&["AD USER", "PREDICTED", "CLOUD ACCOUNT", "WHY"], &rows);
    let mut duplicates_table = |heading: String, duplicates: &[NewDuplicate]| {
        if duplicates.is_empty() {
            return;
        }
        text.push_str(&heading);
        let rows: Vec<Vec<String>> = duplicates
            .iter()
            .map(|duplicate| {
                vec![
                    duplicate.user_principal_name.clone(),
                    duplicate.detail.clone(),
                ]
            })
            .collect();
        text.push_str(&table::render(&["CLOUD ACCOUNT", "DETAIL"], &rows));
    };
    duplicates_table(
        format!("\nnew duplicates ({})\n", outcome.new_duplicates.len()),
        &outcome.new_duplicates,
    );
    duplicates_table(
        format!(
            "\nduplicates the next cycle creates with or without this plan ({}; `hardmatch status` lists them)\n",
            outcome.duplicates_without_the_plan.len()
        ),
        &outcome.duplicates_without_the_plan,
    );
    text
}
